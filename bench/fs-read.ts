/**
 * bench/fs-read: 4 KiB random reads from a 1 GiB file held in the page cache,
 * 32 in flight, closed loop (each completion issues the next read), fixed
 * duration. One run compares, each in its own process:
 *
 *   ours           Ring.read (lib/ring.ts)
 *   node           node:fs/promises FileHandle.read, libuv thread pool (default)
 *   node+io_uring  the same with UV_USE_IO_URING=1
 *   C              bench/c/fs-read-ref.c on our ring layer (native/uring)
 *
 * usage: node dist/bench/fs-read.js [--seconds 5] [--warmup 1] [--depth 32]
 *          [--block 4096] [--size-mib 1024] [--file PATH] [--only ours,node,node-uring,c,ours-then]
 * (ours-then, not run by default: the same reads with .then() lanes instead of async functions)
 * A worker mode (--worker ours|node) is used internally.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ring } from '../lib/ring';
import {
  compileC, fmt, hasCommand, numArg, parseArgs, printTable, ratio, run, runJson, RING_SOURCES,
} from './util';

interface Result {
  ops: number;
  seconds: number;
  iops: number;
  /** CPU time (user + system, all threads of the process) during the timed part. */
  cpuSeconds: number;
}

const args = parseArgs();
const SECONDS = numArg(args, 'seconds', 5);
const WARMUP = numArg(args, 'warmup', 1);
const DEPTH = numArg(args, 'depth', 32);
const BLOCK = numArg(args, 'block', 4096);
const SIZE = numArg(args, 'size-mib', 1024) * 1024 * 1024;
const FILE = args.get('file') ?? path.join(os.tmpdir(), 'uring-bench', `fs-read-${SIZE >> 20}m.dat`);

/** Creates the data file once (non-zero content), reused across runs. */
function ensureFile(): void {
  if (fs.existsSync(FILE) && fs.statSync(FILE).size === SIZE) return;
  console.log(`# creating ${FILE} (${SIZE >> 20} MiB)`);
  fs.mkdirSync(path.dirname(FILE), { recursive: true });
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  const fd = fs.openSync(FILE + '.tmp', 'w');
  for (let off = 0; off < SIZE; off += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, SIZE - off));
  fs.closeSync(fd);
  fs.renameSync(FILE + '.tmp', FILE);
}

/** Reads the whole file sequentially so every page is in the page cache. */
function warmCache(): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(FILE, 'r');
  while (fs.readSync(fd, buf, 0, buf.length, null) > 0) { /* just touch */ }
  fs.closeSync(fd);
  if (hasCommand('fincore')) {
    const line = run('fincore', ['--bytes', '--noheadings', '--output', 'RES,SIZE', FILE]).trim().split(/\s+/);
    console.log(`# page cache: ${fmt(Number(line[0]) / 2 ** 20)} of ${fmt(Number(line[1]) / 2 ** 20)} MiB resident (fincore)`);
  }
}

/**
 * Runs `depth` async lanes, each awaiting `read(buf, pos)` in a loop, for
 * WARMUP + SECONDS; counts the reads completed in the timed part.
 */
async function closedLoop(read: (buf: Buffer, pos: number) => Promise<number>): Promise<Result> {
  const blocks = Math.floor(SIZE / BLOCK);
  let x = 0x9e3779b9 | 0; // xorshift32, as in fs-read-ref.c
  const nextPos = (): number => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return ((x >>> 0) % blocks) * BLOCK;
  };
  let ops = 0;
  let stop = false;
  let t0 = 0;
  let t1 = 0;
  const lane = async (buf: Buffer): Promise<void> => {
    while (!stop) {
      const n = await read(buf, nextPos());
      if (n !== BLOCK) throw new Error(`short read: ${n}`);
      ops++;
    }
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < DEPTH; i++) lanes.push(lane(Buffer.alloc(BLOCK)));
  let measured = 0;
  let cpu0 = process.cpuUsage();
  let cpu = { user: 0, system: 0 };
  await new Promise<void>((resolve) => setTimeout(() => {
    ops = 0;
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    setTimeout(() => {
      measured = ops;
      t1 = performance.now();
      cpu = process.cpuUsage(cpu0);
      stop = true;
      resolve();
    }, SECONDS * 1000);
  }, WARMUP * 1000));
  await Promise.all(lanes);
  const seconds = (t1 - t0) / 1000;
  return { ops: measured, seconds, iops: measured / seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** {@link closedLoop} with callback lanes (ring.read(...).then(next)), no async functions. */
function closedLoopThen(ring: Ring, fd: number): Promise<Result> {
  const blocks = Math.floor(SIZE / BLOCK);
  let x = 0x9e3779b9 | 0;
  let ops = 0;
  let stop = false;
  let live = DEPTH;
  return new Promise((resolve, reject) => {
    let t0 = 0;
    let measured = 0;
    let cpu0 = process.cpuUsage();
    let done: (() => void) | undefined;
    const issue = (buf: Buffer): void => {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      ring.read(fd, buf, 0, BLOCK, ((x >>> 0) % blocks) * BLOCK).then((n) => {
        if (n !== BLOCK) return reject(new Error(`short read: ${n}`));
        ops++;
        if (!stop) issue(buf);
        else if (--live === 0) done!();
      }, reject);
    };
    for (let i = 0; i < DEPTH; i++) issue(Buffer.alloc(BLOCK));
    setTimeout(() => {
      ops = 0;
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      setTimeout(() => {
        measured = ops;
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        stop = true;
        done = () => resolve({ ops: measured, seconds, iops: measured / seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
      }, SECONDS * 1000);
    }, WARMUP * 1000);
  });
}

async function worker(kind: string): Promise<void> {
  let result: Result;
  if (kind === 'ours') {
    const ring = new Ring();
    const fd = fs.openSync(FILE, 'r');
    result = await closedLoop((buf, pos) => ring.read(fd, buf, 0, BLOCK, pos));
    fs.closeSync(fd);
    ring.destroy();
  } else if (kind === 'ours-then') {
    // Same reads, but each lane is a .then() chain instead of an async function:
    // shows how much of the per-read cost is the caller's async/await machinery.
    const ring = new Ring();
    const fd = fs.openSync(FILE, 'r');
    result = await closedLoopThen(ring, fd);
    fs.closeSync(fd);
    ring.destroy();
  } else if (kind === 'node') {
    const fh = await fsp.open(FILE, 'r');
    result = await closedLoop(async (buf, pos) => (await fh.read(buf, 0, BLOCK, pos)).bytesRead);
    await fh.close();
  } else {
    throw new RangeError(`unknown --worker ${kind}`);
  }
  console.log(JSON.stringify(result));
}

async function main(): Promise<void> {
  ensureFile();
  warmCache();
  const only = (args.get('only') ?? 'ours,node,node-uring,c').split(',');
  const common = ['--seconds', String(SECONDS), '--warmup', String(WARMUP), '--depth', String(DEPTH),
    '--block', String(BLOCK), '--size-mib', String(SIZE >> 20), '--file', FILE];
  const envNoUring = { ...process.env };
  delete envNoUring.UV_USE_IO_URING;
  const results = new Map<string, Result>();
  const label: Record<string, string> = {
    ours: 'ours: Ring.read',
    'ours-then': 'ours: Ring.read, .then() lanes (no async fn)',
    node: 'node FileHandle.read (thread pool)',
    'node-uring': 'node FileHandle.read, UV_USE_IO_URING=1',
    c: 'C reference (our ring layer)',
  };
  console.log(`# fs-read: ${BLOCK} B random reads, ${DEPTH} in flight, ${SECONDS} s each (+${WARMUP} s warm-up), ` +
    `file ${SIZE >> 20} MiB, ${os.cpus().length} CPUs, node ${process.version}, kernel ${os.release()}`);
  for (const kind of only) {
    let r: Result;
    if (kind === 'c') {
      const bin = compileC('fs-read-ref', RING_SOURCES);
      r = runJson<Result>(bin, [FILE, String(SECONDS), String(DEPTH), String(BLOCK), String(WARMUP)]);
    } else {
      const env = kind === 'node-uring' ? { ...envNoUring, UV_USE_IO_URING: '1' } : envNoUring;
      const w = kind.startsWith('ours') ? kind : 'node';
      r = runJson<Result>(process.execPath, [__filename, '--worker', w, ...common], { env });
    }
    results.set(kind, r);
    console.log(`# ${label[kind] ?? kind}: ${fmt(r.iops)} IOPS`);
  }
  const ours = results.get('ours')?.iops;
  const rows = [['variant', 'IOPS', 'ours / this', 'CPU s / 1M reads', 'CPU cores busy']];
  for (const [k, r] of results) {
    rows.push([label[k] ?? k, fmt(r.iops), ratio(ours, r.iops), (r.cpuSeconds / r.ops * 1e6).toFixed(2),
      (r.cpuSeconds / r.seconds).toFixed(2)]);
  }
  console.log('');
  printTable(rows);
  console.log('');
  console.log('targets: ours/node >= 4.0x, ours/node+io_uring >= 2.0x, ours/C >= 0.6x');
  console.log('CPU = user + system time of the whole process (all its threads, including io_uring kernel workers');
  console.log('such as the SQPOLL thread libuv starts with UV_USE_IO_URING=1), from getrusage.');
}

const w = args.get('worker');
(w ? worker(w) : main()).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
