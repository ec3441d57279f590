/**
 * O_DIRECT 4 KiB random reads, 32 in flight, through registered buffers:
 * this library (DirectFile.read -> IORING_OP_READ_FIXED) against a C program
 * doing the same on the same ring layer (bench/c/fs-direct-ref.c), and fio
 * for context when it is installed. Prints IOPS and the ratio.
 *
 * Run under the exclusive lock: flock -x /tmp/bench.lock npm run bench:fs-direct
 * Env: BENCH_SECONDS (default 5), BENCH_FILE_MB (default 1024), BENCH_DIR (default os.tmpdir()).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { Ring } from '../lib/ring';
import { BufferPool } from '../lib/buffers';
import { openDirect } from '../lib/direct';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 1024);
const DEPTH = 32;
const BS = 4096;
const root = path.join(__dirname, '..', '..');
const outDir = path.join(root, 'bench', 'out');
const dataFile = path.join(process.env.BENCH_DIR ?? os.tmpdir(), `uring-bench-direct-${FILE_MB}m.dat`);

/** A file of random data (not sparse: O_DIRECT reads of holes never touch the device). */
function ensureDataFile(): void {
  const size = FILE_MB * 1024 * 1024;
  try {
    if (fs.statSync(dataFile).size === size) return;
  } catch { /* create it */ }
  const fd = fs.openSync(dataFile, 'w');
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (let off = 0; off < size; off += chunk.length) {
    randomFillSync(chunk);
    fs.writeSync(fd, chunk, 0, chunk.length, off);
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

function buildRef(): string {
  fs.mkdirSync(outDir, { recursive: true });
  const exe = path.join(outDir, 'fs-direct-ref');
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-I', path.join(root, 'native', 'uring'),
    '-o', exe, path.join(root, 'bench', 'c', 'fs-direct-ref.c'), path.join(root, 'native', 'uring', 'ring.c')],
  { stdio: 'inherit' });
  return exe;
}

/** xorshift64*, as in the C reference. */
function makeRand(): () => bigint {
  let s = 0x9e3779b97f4a7c15n;
  const M = (1n << 64n) - 1n;
  return () => {
    s ^= s >> 12n;
    s ^= (s << 25n) & M;
    s ^= s >> 27n;
    return (s * 0x2545f4914f6cdd1dn) & M;
  };
}

async function runJs(): Promise<number> {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: DEPTH, size: BS });
  const f = await openDirect(ring, dataFile);
  const blocks = Math.floor(fs.statSync(dataFile).size / BS);
  // Random block numbers precomputed with the C program's generator (BigInt is too slow per op).
  const rand = makeRand();
  const table = new Float64Array(1 << 16);
  for (let i = 0; i < table.length; i++) table[i] = Number(rand() % BigInt(blocks)) * BS;
  let next = 0;
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(SECONDS * 1e9));
  let stop = false;
  const worker = async (): Promise<void> => {
    const fb = pool.acquire();
    while (!stop) {
      const n = await f.read(fb, 0, BS, table[next++ & 0xffff]!);
      if (n !== BS) throw new Error(`short read ${n}`);
      ops++;
      if ((ops & 255) === 0 && process.hrtime.bigint() >= end) stop = true;
    }
    pool.release(fb);
  };
  await Promise.all(Array.from({ length: DEPTH }, worker));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  await f.close();
  pool.close();
  ring.destroy();
  return ops / secs;
}

function runC(exe: string): number {
  const out = execFileSync(exe, [dataFile, String(SECONDS), String(DEPTH), String(BS)], { encoding: 'utf8' });
  const m = /iops=(\d+)/.exec(out);
  if (!m) throw new Error(`unexpected output: ${out}`);
  return Number(m[1]);
}

function runFio(): number | undefined {
  const which = spawnSync('which', ['fio'], { encoding: 'utf8' });
  if (which.status !== 0) return undefined;
  const r = spawnSync('fio', ['--name=randread', `--filename=${dataFile}`, '--ioengine=io_uring', '--direct=1',
    '--rw=randread', `--bs=${BS}`, `--iodepth=${DEPTH}`, `--runtime=${SECONDS}`, '--time_based',
    '--fixedbufs', '--registerfiles=0', '--output-format=json'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const j = JSON.parse(r.stdout) as { jobs: { read: { iops: number } }[] };
  return j.jobs[0]!.read.iops;
}

async function main(): Promise<void> {
  ensureDataFile();
  const exe = buildRef();
  console.log(`O_DIRECT random ${BS}-byte reads, ${DEPTH} in flight, ${SECONDS} s each, file ${FILE_MB} MiB ` +
    `(${dataFile})`);
  const fioBefore = runFio();
  // Alternate to spread drift (device caches, other load) over both sides.
  const js: number[] = [];
  const c: number[] = [];
  for (let round = 0; round < 2; round++) {
    c.push(runC(exe));
    js.push(await runJs());
  }
  const best = (a: number[]): number => Math.max(...a);
  const jsIops = best(js);
  const cIops = best(c);
  const fioAfter = runFio();
  const fio = fioBefore !== undefined && fioAfter !== undefined ? Math.max(fioBefore, fioAfter) : undefined;
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(10);
  console.log(`  uring-node DirectFile.read (READ_FIXED) ${fmt(jsIops)} IOPS   runs: ${js.map(Math.round).join(', ')}`);
  console.log(`  C reference, same ring layer          ${fmt(cIops)} IOPS   runs: ${c.map(Math.round).join(', ')}`);
  if (fio !== undefined) {
    console.log(`  fio io_uring --direct=1 --fixedbufs    ${fmt(fio)} IOPS   runs (before, after): ` +
      `${Math.round(fioBefore!)}, ${Math.round(fioAfter!)}`);
  }
  else console.log('  fio: not installed (apt-get install -y fio)');
  console.log(`  ratio uring-node / C: ${(jsIops / cIops).toFixed(3)}x (target >= 0.95x)`);
  if (fio !== undefined) console.log(`  ratio uring-node / fio: ${(jsIops / fio).toFixed(3)}x`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
