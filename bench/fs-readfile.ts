/**
 * readFile throughput: our fs.readFile (io_uring) against node:fs/promises'
 * readFile (libuv thread pool), on page-cached files of 4 KiB and 1 MiB,
 * with many reads in flight, for a fixed time each. Prints ops/s and the
 * ratio ours / node.
 *
 * Usage: node dist/bench/fs-readfile.js [seconds per run (default 3)] [in flight (default 64)]
 * Run under an exclusive lock on shared machines: flock -x /tmp/bench.lock npm run bench:fs-readfile
 */
import * as nodeFs from 'node:fs';
import * as nfs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ours from '../lib/fs';

type ReadFile = (p: string) => Promise<unknown>;

const seconds = Number(process.argv[2]) || 3;
const inflight = Number(process.argv[3]) || 64;
const FILES = 32;

/** Runs `inflight` loops of readFile over `files` for `ms`; returns ops/s. */
async function run(readFile: ReadFile, files: string[], ms: number): Promise<number> {
  let ops = 0;
  let i = 0;
  const end = performance.now() + ms;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      await readFile(files[i++ % files.length]!);
      ops++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inflight }, lane));
  return ops / ((performance.now() - start) / 1000);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(10);
}

async function main(): Promise<void> {
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'bench-readfile-'));
  try {
    console.log(`fs.readFile: ${inflight} in flight, ${seconds}s per run, best of 2 runs; backend ${ours.backend}; ` +
      `node ${process.version}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}, ` +
      `UV_USE_IO_URING=${process.env.UV_USE_IO_URING ?? '(unset: libuv thread pool)'}, ` +
      `${os.cpus().length} CPUs, Linux ${os.release()}`);
    console.log(`${'size'.padEnd(8)} ${'node ops/s'.padStart(10)} ${'ours ops/s'.padStart(10)}  ratio`);
    for (const [label, size] of [['4 KiB', 4096], ['64 KiB', 65536], ['1 MiB', 1 << 20]] as const) {
      const files: string[] = [];
      for (let k = 0; k < FILES; k++) {
        const f = path.join(dir, `${size}-${k}`);
        nodeFs.writeFileSync(f, Buffer.alloc(size, k));
        files.push(f);
      }
      // Warm the page cache and both code paths.
      await run((p) => nfs.readFile(p), files, 300);
      await run((p) => ours.readFile(p), files, 300);
      let node = 0;
      let mine = 0;
      for (let round = 0; round < 2; round++) {
        node = Math.max(node, await run((p) => nfs.readFile(p), files, seconds * 1000));
        mine = Math.max(mine, await run((p) => ours.readFile(p), files, seconds * 1000));
      }
      console.log(`${label.padEnd(8)} ${fmt(node)} ${fmt(mine)}  ${(mine / node).toFixed(2)}x`);
    }
  } finally {
    nodeFs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
