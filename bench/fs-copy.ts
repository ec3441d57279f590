/**
 * Copying a 1 GiB file: this library's copyFile (splice through pooled
 * pipes, no byte in user space) against node:fs/promises.copyFile (libuv:
 * copy_file_range on the thread pool) and a stream pipe
 * (fs.createReadStream().pipe(fs.createWriteStream())). Prints MB/s and ratios.
 *
 * The source is warm in the page cache; dirty pages are flushed (sync, not
 * timed) and the destination removed before every run; runs alternate.
 * The source is read again (untimed) before every run: machines with
 * proactive reclaim (DAMON's pageout scheme, as on the project's test VM)
 * evict page cache that was not touched for a few seconds, and the method
 * that happens to run first after that would pay for reading it from disk.
 *
 * Run under the exclusive lock: flock -x /tmp/bench.lock npm run bench:fs-copy
 * Env: BENCH_FILE_MB (default 1024), BENCH_ROUNDS (default 3), BENCH_DIR (default os.tmpdir()).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Ring } from '../lib/ring';
import { copyFile } from '../lib/copy';

const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 1024);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = process.env.BENCH_DIR ?? os.tmpdir();
const src = path.join(dir, `uring-bench-copy-${FILE_MB}m.dat`);
const dst = path.join(dir, `uring-bench-copy-${FILE_MB}m.out`);

function ensureSource(): void {
  const size = FILE_MB * 1024 * 1024;
  try {
    if (fs.statSync(src).size === size) return;
  } catch { /* create it */ }
  const fd = fs.openSync(src, 'w');
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (let off = 0; off < size; off += chunk.length) {
    randomFillSync(chunk);
    fs.writeSync(fd, chunk, 0, chunk.length, off);
  }
  fs.closeSync(fd);
}

/** Reads the whole source (page cache -> a small buffer), so it is all cached. */
function warmSource(): void {
  const fd = fs.openSync(src, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0) { /* read on */ }
  } finally {
    fs.closeSync(fd);
  }
}

/** Untimed: remove the destination, write back dirty pages, re-warm the source: every run starts alike. */
function reset(): void {
  fs.rmSync(dst, { force: true });
  execFileSync('sync');
  warmSource();
}

/** One timed copy: [MB/s, CPU seconds of the whole process (io-wq and libuv pool threads included)]. */
async function timeIt(fn: () => Promise<void>): Promise<[number, number]> {
  reset();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  if (fs.statSync(dst).size !== FILE_MB * 1024 * 1024) throw new Error('copy has the wrong size');
  return [(FILE_MB * 1024 * 1024) / 1e6 / secs, (cpu.user + cpu.system) / 1e6];
}

async function main(): Promise<void> {
  ensureSource();
  const ring = new Ring();
  const sides: [string, () => Promise<void>][] = [
    ['uring-node copyFile (splice, pooled pipes)', () => copyFile(ring, src, dst)],
    ['node:fs/promises copyFile', () => fs.promises.copyFile(src, dst)],
    ['createReadStream().pipe(createWriteStream())', () => pipeline(fs.createReadStream(src), fs.createWriteStream(dst))],
  ];
  const results = sides.map(() => [] as number[]);
  const cpus = sides.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < sides.length; i++) {
      const [mbs, cpu] = await timeIt(sides[i]![1]);
      results[i]!.push(mbs);
      cpus[i]!.push(cpu);
    }
  }
  reset();
  ring.destroy();
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  console.log(`Copying a ${FILE_MB} MiB file (${src}), ${ROUNDS} alternating rounds, median MB/s:`);
  const med = results.map(median);
  for (let i = 0; i < sides.length; i++) {
    console.log(`  ${sides[i]![0].padEnd(46)} ${med[i]!.toFixed(0).padStart(6)} MB/s  ` +
      `cpu ${median(cpus[i]!).toFixed(2)} s   runs: ${results[i]!.map((x) => x.toFixed(0)).join(', ')}`);
  }
  console.log(`  ratio vs node:fs/promises copyFile: ${(med[0]! / med[1]!).toFixed(2)}x (target >= 0.9x)`);
  console.log(`  ratio vs stream pipe:               ${(med[0]! / med[2]!).toFixed(2)}x (target >= 2x)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
