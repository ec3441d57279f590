/**
 * bench/zero-copy: the zero-copy matrix. Moves a file of 4 KiB, 64 KiB,
 * 1 MiB and 64 MiB to a TCP socket on loopback (a reader process drains and
 * counts) or to another file, by each method, repeatedly until --total-mib
 * (warm) or the per-size cold total has moved; each cell is run --runs times
 * and the medians are reported: throughput, sender CPU seconds per GiB
 * (getrusage / process.cpuUsage, user + system), the reader's CPU per GiB
 * (TCP), and system calls per MiB counted with `strace -c -f` on the sender
 * (the reader is a separate, untraced process; start-up calls are removed by
 * subtracting a one-repetition run).
 *
 * Two cache modes (--cache warm,cold): "warm" reads the source into the page
 * cache first and leaves it there; "cold" evicts it before every timed
 * repetition (fdatasync, then posix_fadvise DONTNEED, checked with mincore
 * by bench/c/zc-cache.c, see bench/cache.ts), with the sender's clock and CPU
 * accounting stopped meanwhile. The O_DIRECT methods run in the cold mode
 * only (they never read through the page cache). The default run (5 runs,
 * 128 MiB warm, 16/128/512/512 MiB cold) is meant to finish in under 15
 * minutes on the 2-core test machine (it took 7 min 16 s; 3 runs with half
 * the cold totals took 3 min 38 s); the elapsed time is printed and recorded.
 * In the cold mode, "vs warm" compares with the same method's warm cell.
 *
 * Methods: the plain system calls of bench/c/zc-sync.c (read+write, mmap+write,
 * sendfile, splice via a pipe, vmsplice, copy_file_range, O_DIRECT read + write), and the runtime's
 * own methods through RUNTIME_RUNNERS below, each included only when the
 * module it needs exists in dist/lib (nothing is simulated).
 *
 * Writes its section of bench/RESULTS.md (between the zero-copy markers) and bench/zero-copy.svg (trial runs with --lib-dir,
 * --methods, --cache or --no-write write them into bench/out/ instead).
 *
 * usage: node dist/bench/zero-copy.js [--runs 5] [--total-mib 128] [--sizes 4096,65536,1048576,67108864]
 *          [--sinks tcp,file] [--cache warm,cold] [--cold-total-mib N] [--methods rw,mmap,...]
 *          [--no-strace] [--lib-dir DIR]
 * (--cold-total-mib: one total for every size in the cold mode; default 16 MiB for 4 KiB,
 *  128 MiB for 64 KiB, 512 MiB from 1 MiB up)
 * (--lib-dir: load the runtime's modules from another build's dist/lib, to try the hooks;
 *  default dist/lib of this checkout)
 * Internal: --runner <name> --src P --sink tcp|file --target PORT|PATH --total N [--cold REQ,REP]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Ring } from '../lib/ring';
import type { DirectFile } from '../lib/direct';
import type { BufferPool, FixedBuffer } from '../lib/buffers';
import {
  compileC, ensurePackage, fmt, markdownTable, median, numArg, parseArgs, printTable, ROOT, run,
} from './util';
import {
  ColdClient, dropCachesStatus, evictFile, makeFifos, pct, residency, resetProgress, startEvictor,
  type CacheMode, type EvictorSummary,
} from './cache';

/** What one transfer run reports (C and JS runners print the same JSON). */
interface RunResult {
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  readerCpuSeconds?: number;
  /** Cold runs: the most pages of the source found resident when a repetition started, of `pages`. */
  residentMax?: number;
  pages?: number;
  /** Cold runs: the evictor's own report. */
  evictor?: EvictorSummary;
}
type Sink = 'tcp' | 'file';

interface Cell {
  method: string;
  sink: Sink;
  size: number;
  cache: CacheMode;
  /** Bytes moved per run. */
  total: number;
  gbps: number;
  cpuPerGiB: number;
  readerCpuPerGiB?: number;
  syscallsPerMiB?: number;
  runs: number[];
  /** Cold: the largest share of the source's pages resident at the start of a timed repetition (all runs). */
  residentMaxPct?: number;
  /** Cold: extra fadvise rounds the evictor needed (all runs), pages still held by socket buffers. */
  extraRounds?: number;
}

const args = parseArgs();
const RUNS = numArg(args, 'runs', 5);
const TOTAL = numArg(args, 'total-mib', 128) * 2 ** 20;
const SIZES = (args.get('sizes') ?? '4096,65536,1048576,67108864').split(',').map(Number);
const SINKS = (args.get('sinks') ?? 'tcp,file').split(',') as Sink[];
const CACHES = (args.get('cache') ?? 'warm,cold').split(',') as CacheMode[];
for (const c of CACHES) if (c !== 'warm' && c !== 'cold') throw new RangeError(`--cache takes warm and/or cold, got ${c}`);
/**
 * Bytes per cold run: every repetition reads the source from the disk
 * (virtio-blk here), so the cold totals are smaller than the warm one.
 */
function coldTotal(size: number): number {
  if (args.has('cold-total-mib')) return numArg(args, 'cold-total-mib', 0) * MiB;
  return (size <= 4096 ? 16 : size <= 65536 ? 128 : 512) * MiB;
}
const ONLY_METHODS = args.get('methods')?.split(',');
const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** O_DIRECT read size (both the C and the runtime's runner; less for smaller files). */
const DIRECT_CHUNK = MiB;
const DIR = path.join(os.tmpdir(), 'uring-bench');
/** Where the runtime's compiled modules are loaded from (--lib-dir: another build, to try the hooks). */
const LIB = path.resolve(args.get('lib-dir') ?? path.join(ROOT, 'dist', 'lib'));

// ------------------------------------------------------------------ runners

/** A way to move the source to the sink, run as a separate process per run. */
interface Runner {
  name: string;
  label: string;
  sinks: Sink[];
  /** The cache modes it runs in (O_DIRECT: cold only, it never reads through the page cache). */
  caches: CacheMode[];
  /** Why it cannot run here (into `sink`), or undefined when it can. */
  unavailable(sink?: Sink): string | undefined;
  /** argv of one run (the sender); `fifos`: the cold-cache handshake with the evictor. */
  argv(src: string, sink: Sink, target: string, total: number, fifos?: [string, string]): string[];
}

const BOTH: CacheMode[] = ['warm', 'cold'];
const C_METHODS: Array<[string, string, Sink[], CacheMode[]]> = [
  ['rw', 'read + write (128 KiB buffer)', ['tcp', 'file'], BOTH],
  ['mmap', 'mmap + write', ['tcp', 'file'], BOTH],
  ['sendfile', 'sendfile(2)', ['tcp', 'file'], BOTH],
  ['splice', 'splice(2) via 1 MiB pipe', ['tcp', 'file'], BOTH],
  ['vmsplice', 'mmap + vmsplice(2) + splice(2)', ['tcp', 'file'], BOTH],
  ['cfr', 'copy_file_range(2)', ['file'], BOTH],
  ['direct', 'O_DIRECT read (1 MiB buffer) + write', ['tcp', 'file'], ['cold']],
];

function cRunner(bin: () => string, name: string, label: string, sinks: Sink[], caches: CacheMode[]): Runner {
  return {
    name, label: `C ${label}`, sinks, caches, unavailable: () => undefined,
    argv: (src, sink, target, total, fifos) => [bin(), 'send', name, src, sink, target, String(total), ...(fifos ?? [])],
  };
}

function cRunners(bin: () => string): Runner[] {
  return C_METHODS.map(([name, label, sinks, caches]) => cRunner(bin, name, label, sinks, caches));
}

/** A module of this library in dist/lib, or undefined when it is not built/merged. */
function libModule<T>(name: string): T | undefined {
  const file = path.join(LIB, `${name}.js`);
  if (!fs.existsSync(file)) return undefined;
  return require(file) as T;
}

/*
 * ===================== HOOKS: the runtime's own methods =====================
 * Each entry runs in a child process (`--runner <name>`, see runtimeRun below)
 * and is listed only when the module it needs exists. To add a method: add an
 * entry here and a case in runtimeRun.
 */
const RUNTIME_RUNNERS: Array<{ name: string; label: string; sinks: Sink[]; needs: string[]; caches?: CacheMode[] }> = [
  // Ring.read + Ring.write (file) / Ring.send (tcp): the baseline through the ring.
  { name: 'ours-rw', label: 'ours Ring.read + write/send', sinks: ['file', 'tcp'], needs: [] },
  // lib/ops-splice.ts transfer(): splice file -> pooled pipe -> sink, linked SQEs.
  { name: 'ours-splice', label: 'ours transfer() (splice via pipe pool)', sinks: ['file', 'tcp'], needs: ['ops-splice'] },
  // lib/copy.ts copyRange(): in-kernel file -> file copy.
  { name: 'ours-copy', label: 'ours copyRange()', sinks: ['file'], needs: ['copy'] },
  // lib/ops-net.ts Ring.sendZc(): IORING_OP_SEND_ZC from a buffer filled by Ring.read.
  { name: 'ours-sendzc', label: 'ours Ring.read + sendZc', sinks: ['tcp'], needs: ['ops-net'] },
  // lib/direct.ts DirectFile.read (O_DIRECT, READ_FIXED into a registered buffer) + send / writeFixed.
  { name: 'ours-direct', label: 'ours DirectFile.read (O_DIRECT, 1 MiB fixed buffer) + send/writeFixed',
    sinks: ['file', 'tcp'], needs: ['direct', 'buffers', 'ops-fixed'], caches: ['cold'] },
];
// A TCP sink always needs lib/ops-net (socket, connect, send, shutdown, recv on the ring).

function runtimeRunner(r: (typeof RUNTIME_RUNNERS)[number]): Runner {
  return {
    name: r.name, label: r.label, sinks: r.sinks, caches: r.caches ?? BOTH,
    unavailable: (sink?: Sink) => {
      const needs = sink === 'tcp' && !r.needs.includes('ops-net') ? [...r.needs, 'ops-net'] : r.needs;
      const missing = needs.filter((m) => !fs.existsSync(path.join(LIB, `${m}.js`)));
      return missing.length ? `needs ${missing.map((m) => `lib/${m}.js`).join(', ')} (not in ${LIB})` : undefined;
    },
    argv: (src, sink, target, total, fifos) => [process.execPath, __filename, '--runner', r.name, '--src', src,
      '--sink', sink, '--target', target, '--total', String(total), '--lib-dir', LIB,
      ...(fifos ? ['--cold', fifos.join(',')] : [])],
  };
}

function runtimeRunners(): Runner[] {
  return RUNTIME_RUNNERS.map(runtimeRunner);
}

/** Runners that move nothing: they measure the system calls of the cold handshake alone, per family. */
function handshakeRunners(bin: () => string): Runner[] {
  return [cRunner(bin, 'none', 'C', ['file'], ['cold']),
    runtimeRunner({ name: 'ours-none', label: 'runtime', sinks: ['file'], needs: [], caches: ['cold'] })];
}

/* Minimal shapes of the modules the hooks use (checked at run time). */
interface NetRing {
  socket(domain: number, type: number, protocol?: number): Promise<number>;
  connect(fd: number, sockaddr: Uint8Array): Promise<void>;
  send(fd: number, buffer: ArrayBufferView, offset?: number, length?: number): Promise<number>;
  recv(fd: number, buffer: ArrayBufferView, offset?: number, length?: number): Promise<number>;
  shutdown(fd: number, how: number): Promise<void>;
  sendZc?(fd: number, buffer: ArrayBufferView, options?: { offset?: number; length?: number }): Promise<number>;
}
type TransferFn = (ring: Ring, srcFd: number, srcOffset: number | null, dstFd: number, dstOffset: number | null,
  length: number, pool: unknown) => Promise<number>;
type CopyRangeFn = (ring: Ring, srcFd: number, dstFd: number, length: number,
  options?: { srcOffset?: number; dstOffset?: number }) => Promise<number>;

/** sockaddr_in for 127.0.0.1:port (kernel ABI: family LE, port and address big-endian). */
function loopback(port: number): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(2, 0); // AF_INET
  b.writeUInt16BE(port, 2);
  b.writeUInt32BE(0x7f000001, 4);
  return b;
}

/** One run of a runtime method, in this (child) process; prints a RunResult line. */
async function runtimeRun(name: string, src: string, sink: Sink, target: string, total: number,
  fifos: [string, string] | undefined): Promise<void> {
  // The Ring class comes from the same build as the modules that extend it.
  const RingClass = libModule<{ Ring: typeof Ring }>('ring')!.Ring;
  const ring = new RingClass();
  const netMod = libModule<object>('ops-net'); // side effect: attaches socket/send/... to Ring
  const net = ring as unknown as NetRing;
  if (sink === 'tcp' && (!netMod || typeof net.socket !== 'function')) throw new Error('TCP sink needs lib/ops-net');
  const srcFd = fs.openSync(src, 'r');
  const size = fs.fstatSync(srcFd).size;
  let out: number;
  if (sink === 'tcp') {
    out = await net.socket(2, 1, 0); // AF_INET, SOCK_STREAM
    await net.connect(out, loopback(Number(target)));
  } else {
    out = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
  }
  const sendAll = async (buf: Buffer, n: number, pos: number): Promise<void> => {
    for (let off = 0; off < n;) {
      const w = sink === 'tcp' ? await net.send(out, buf, off, n - off) : await ring.write(out, buf, off, n - off, pos + off);
      off += w;
    }
  };
  let once: () => Promise<void>;
  const cleanup: Array<() => Promise<void>> = [];
  const buf = Buffer.alloc(Math.min(size, 128 * 1024));
  if (name === 'ours-rw') {
    once = async () => {
      for (let pos = 0; pos < size;) {
        const n = await ring.read(srcFd, buf, 0, Math.min(buf.length, size - pos), pos);
        if (n <= 0) throw new Error('unexpected end of file');
        await sendAll(buf, n, pos);
        pos += n;
      }
    };
  } else if (name === 'ours-splice') {
    const m = libModule<{ transfer?: TransferFn }>('ops-splice');
    const pipes = libModule<{ PipePool?: new () => unknown }>('pipes');
    if (!m?.transfer || !pipes?.PipePool) throw new Error('lib/ops-splice has no transfer() / lib/pipes no PipePool');
    const pool = new pipes.PipePool();
    const transfer = m.transfer;
    once = async () => {
      const n = await transfer(ring, srcFd, 0, out, sink === 'file' ? 0 : null, size, pool);
      if (n !== size) throw new Error(`transfer moved ${n} of ${size}`);
    };
  } else if (name === 'ours-copy') {
    const m = libModule<{ copyRange?: CopyRangeFn }>('copy');
    if (!m?.copyRange) throw new Error('lib/copy has no copyRange()');
    const copyRange = m.copyRange;
    once = async () => {
      const n = await copyRange(ring, srcFd, out, size, { srcOffset: 0, dstOffset: 0 });
      if (n !== size) throw new Error(`copyRange moved ${n} of ${size}`);
    };
  } else if (name === 'ours-sendzc') {
    if (typeof net.sendZc !== 'function') throw new Error('Ring.sendZc is missing');
    once = async () => {
      for (let pos = 0; pos < size;) {
        const n = await ring.read(srcFd, buf, 0, Math.min(buf.length, size - pos), pos);
        for (let off = 0; off < n;) off += await net.sendZc!(out, buf, { offset: off, length: n - off });
        pos += n;
      }
    };
  } else if (name === 'ours-direct') {
    const d = libModule<{ openDirect?: (ring: Ring, path: string) => Promise<DirectFile> }>('direct');
    const b = libModule<{ BufferPool?: new (ring: Ring, o: { count: number; size: number }) => BufferPool }>('buffers');
    libModule<object>('ops-fixed'); // side effect: Ring.readFixed / writeFixed
    if (!d?.openDirect || !b?.BufferPool) throw new Error('lib/direct has no openDirect() / lib/buffers no BufferPool');
    const df = await d.openDirect(ring, src);
    const chunk = Math.min(size, DIRECT_CHUNK);
    const pool = new b.BufferPool(ring, { count: 1, size: chunk });
    const fb: FixedBuffer = pool.acquire();
    cleanup.push(async () => { pool.release(fb); pool.close(); await df.close(); });
    once = async () => {
      for (let pos = 0; pos < size;) {
        const n = await df.read(fb, 0, Math.min(chunk, size - pos), pos);
        if (n <= 0) throw new Error('unexpected end of file');
        for (let off = 0; off < n;) {
          off += sink === 'tcp' ? await net.send(out, fb.buffer, off, n - off)
            : await ring.writeFixed(out, fb, off, n - off, pos + off);
        }
        pos += n;
      }
    };
  } else if (name === 'ours-none') {
    once = async () => undefined; // the cold handshake alone (system-call calibration)
  } else {
    throw new RangeError(`unknown runner ${name}`);
  }
  const reps = Math.max(1, Math.ceil(total / size));
  const cold = fifos ? new ColdClient(fifos) : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    cold?.evict();
    await once();
  }
  if (sink === 'tcp') {
    await net.shutdown(out, 1);
    const reply = Buffer.alloc(8);
    let got = 0;
    while (got < 8) {
      const n = await net.recv(out, reply, got, 8 - got);
      if (n === 0) throw new Error('reader closed without a reply');
      got += n;
    }
    if (Number(reply.readBigUInt64LE(0)) !== reps * size) throw new Error('reader count mismatch');
  }
  const seconds = (performance.now() - t0) / 1000 - (cold?.wallSeconds ?? 0);
  const cpu = process.cpuUsage(cpu0);
  cold?.close();
  for (const f of cleanup) await f();
  await ring.close(out);
  fs.closeSync(srcFd);
  ring.destroy();
  const result: RunResult = { bytes: reps * size, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 - (cold?.cpuSeconds ?? 0) };
  if (cold) Object.assign(result, { residentMax: cold.maxResident, pages: cold.pages, handshakeSeconds: cold.wallSeconds });
  console.log(JSON.stringify(result));
}

// ------------------------------------------------------------------ driver

/** The handshake FIFOs (cold runs). */
let FIFOS: [string, string] | undefined;

/**
 * The source file of `size` bytes, written (and fdatasynced, so that its
 * pages are clean and can be evicted) once. Warm: read into the page cache.
 * Cold: evicted (each run's evictor evicts it again before every repetition).
 */
function ensureSource(size: number, cache: CacheMode, zcCache: string): string {
  fs.mkdirSync(DIR, { recursive: true });
  const file = path.join(DIR, `zc-src-${size}.dat`);
  if (!fs.existsSync(file) || fs.statSync(file).size !== size) {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(file, b);
  }
  const fd = fs.openSync(file, 'r');
  fs.fdatasyncSync(fd);
  fs.closeSync(fd);
  if (cache === 'warm') fs.readFileSync(file); // into the page cache
  else evictFile(zcCache, file);
  return file;
}

/**
 * Shows that the residency check sees both states: the source fully resident
 * after reading it, none of it after fdatasync + POSIX_FADV_DONTNEED.
 */
function residencyProof(zcCache: string, file: string): string {
  fs.readFileSync(file);
  const before = residency(zcCache, file);
  const after = evictFile(zcCache, file);
  if (after.resident !== 0) throw new Error(`${file}: ${pct(after)} still resident after POSIX_FADV_DONTNEED`);
  return `${path.basename(file)} (${after.pages} pages): resident after reading it ${pct(before)}, ` +
    `after fdatasync + POSIX_FADV_DONTNEED ${pct(after)}`;
}

/** Runs a C reader (for TCP), the evictor (cold) and the sender; returns the sender's result plus the reader's CPU. */
async function oneRun(zc: string, zcCache: string, runner: Runner, src: string, sink: Sink, total: number,
  cache: CacheMode, wrap: string[] = []): Promise<RunResult> {
  let reader: ReturnType<typeof spawn> | undefined;
  let target = path.join(DIR, 'zc-dst.dat');
  let readerOut: Promise<string> | undefined;
  const progress = cache === 'cold' && sink === 'tcp' ? resetProgress(DIR) : undefined;
  if (sink === 'tcp') {
    reader = spawn(zc, ['reader', ...(progress ? [progress] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = reader;
    let buf = '';
    target = await new Promise<string>((resolve, reject) => {
      r.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /"port":(\d+)/.exec(buf);
        if (m) resolve(m[1]!);
      });
      r.once('exit', () => reject(new Error('reader exited early')));
    });
    readerOut = new Promise((resolve) => r.once('exit', () => resolve(buf)));
  }
  const fifos = cache === 'cold' ? (FIFOS ??= makeFifos(DIR)) : undefined;
  const evictor = fifos ? startEvictor(zcCache, src, sink === 'file' ? target : undefined, progress, fifos) : undefined;
  const argv = [...wrap, ...runner.argv(src, sink, target, total, fifos)];
  let out: string;
  try {
    out = run(argv[0]!, argv.slice(1), { timeoutMs: 300_000 });
  } catch (e) {
    reader?.kill();
    evictor?.kill();
    await evictor?.done.catch(() => undefined);
    throw e;
  }
  const res = JSON.parse(out.trim().split('\n').pop()!) as RunResult;
  if (readerOut) {
    const lines = (await readerOut).trim().split('\n');
    res.readerCpuSeconds = (JSON.parse(lines[lines.length - 1]!) as { cpuSeconds: number }).cpuSeconds;
  }
  if (evictor) res.evictor = await evictor.done;
  return res;
}

/** Total system calls in a `strace -c` summary file. */
function straceTotal(file: string): number {
  const line = fs.readFileSync(file, 'utf8').trim().split('\n').pop()!;
  const t = line.trim().split(/\s+/);
  return Number(t[3]);
}

/** Repetitions of the long strace run: 16 MiB warm, 4 MiB cold (each cold one reads the disk), at least 4. */
function straceReps(size: number, cache: CacheMode): number {
  return Math.max(4, Math.ceil((cache === 'cold' ? 4 : 16) * MiB / size));
}

/** (calls of R repetitions - calls of one) / (R - 1): the sender's system calls per repetition. */
async function callsPerRep(zc: string, zcCache: string, runner: Runner, src: string, sink: Sink, size: number,
  cache: CacheMode, reps: number): Promise<number> {
  const outFile = path.join(DIR, 'strace.txt');
  const calls = async (total: number): Promise<number> => {
    await oneRun(zc, zcCache, runner, src, sink, total, cache, ['strace', '-c', '-f', '-o', outFile]);
    return straceTotal(outFile);
  };
  const many = await calls(reps * size);
  const one = await calls(size);
  return (many - one) / (reps - 1);
}

/**
 * System calls per MiB moved. Cold runs subtract `handshake`, the calls per
 * repetition of the eviction handshake alone (measured by a runner that moves nothing).
 */
async function syscallsPerMiB(zc: string, zcCache: string, runner: Runner, src: string, sink: Sink, size: number,
  cache: CacheMode, handshake: number): Promise<number> {
  const perRep = await callsPerRep(zc, zcCache, runner, src, sink, size, cache, straceReps(size, cache));
  return (perRep - (cache === 'cold' ? handshake : 0)) / (size / MiB);
}

function sizeLabel(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : `${n / 1024} KiB`;
}

function cacheLabel(c: CacheMode): string {
  return c === 'warm' ? 'page cache warm' : 'page cache cold (evicted before every repetition)';
}

/** Grouped bar charts of GB/s: one row of panels per cache mode, one panel per sink; hand-written SVG. */
function svgChart(cells: Cell[], methods: Map<string, string>): string {
  const colors = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f',
    '#bab0ac', '#1b3a5c', '#bcbd22'];
  const methodList = [...methods.keys()];
  const color = (m: string) => colors[methodList.indexOf(m) % colors.length]!;
  const panelW = 560, panelH = 260, left = 60, top = 40, gap = 90, rowGap = 80;
  const sinks = SINKS.filter((s) => cells.some((c) => c.sink === s));
  const caches = CACHES.filter((c) => cells.some((x) => x.cache === c));
  const width = left + sinks.length * (panelW + gap);
  const rowsH = caches.length * (panelH + rowGap);
  const height = top + rowsH + 20 + 20 * Math.ceil(methodList.length / 2);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  caches.forEach((cache, row) => {
    const y0 = top + row * (panelH + rowGap);
    sinks.forEach((sink, p) => {
      const x0 = left + p * (panelW + gap);
      const cs = cells.filter((c) => c.sink === sink && c.cache === cache);
      const max = Math.max(...cs.map((c) => c.gbps), 0.001);
      const step = Math.pow(10, Math.floor(Math.log10(max)));
      const yMax = Math.ceil(max / step) * step;
      const y = (v: number) => y0 + panelH - (v / yMax) * panelH;
      parts.push(`<text x="${x0 + panelW / 2}" y="${y0 - 15}" text-anchor="middle" font-size="14" font-weight="bold">` +
        `file -> ${sink === 'tcp' ? 'TCP socket (loopback)' : 'file'}, page cache ${cache}: GB/s (median)</text>`);
      for (let i = 0; i <= 5; i++) {
        const v = (yMax * i) / 5;
        parts.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
          `<text x="${x0 - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(v < 1 ? 2 : 1)}</text>`);
      }
      const groupW = panelW / SIZES.length;
      SIZES.forEach((size, g) => {
        const gc = methodList.map((m) => cs.find((c) => c.method === m && c.size === size)).filter((c): c is Cell => !!c);
        const barW = (groupW * 0.8) / Math.max(gc.length, 1);
        gc.forEach((c, i) => {
          const bx = x0 + g * groupW + groupW * 0.1 + i * barW;
          parts.push(`<rect x="${bx.toFixed(1)}" y="${y(c.gbps).toFixed(1)}" width="${(barW - 1).toFixed(1)}" ` +
            `height="${(y0 + panelH - y(c.gbps)).toFixed(1)}" fill="${color(c.method)}"><title>${esc(methods.get(c.method)!)} ` +
            `${sizeLabel(size)}, ${cache}: ${c.gbps.toFixed(3)} GB/s</title></rect>`);
        });
        parts.push(`<text x="${x0 + g * groupW + groupW / 2}" y="${y0 + panelH + 18}" text-anchor="middle">${sizeLabel(size)}</text>`);
      });
      parts.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${y0 + panelH}" y2="${y0 + panelH}" stroke="#333"/>`);
    });
  });
  methodList.forEach((m, i) => {
    const lx = left + (i % 2) * 520, ly = top + rowsH + 5 + Math.floor(i / 2) * 20;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color(m)}"/>`,
      `<text x="${lx + 18}" y="${ly}">${esc(methods.get(m)!)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function fmtCalls(n: number | undefined): string {
  return n === undefined ? 'n/a' : n.toFixed(Math.abs(n) < 10 ? 2 : 1);
}

async function main(): Promise<void> {
  const started = performance.now();
  const zc = compileC('zc-sync');
  const zcCache = compileC('zc-cache');
  const straceOk = !args.has('no-strace') && ensurePackage('strace', 'strace');
  const runners = [...cRunners(() => zc), ...runtimeRunners()]
    .filter((r) => !ONLY_METHODS || ONLY_METHODS.includes(r.name));
  const methods = new Map<string, string>();
  const skipped: string[] = [];
  const cells: Cell[] = [];
  const totals = CACHES.map((c) => c === 'warm' ? `warm ${fmt(TOTAL / MiB)} MiB per run`
    : `cold ${SIZES.map((s) => `${fmt(coldTotal(s) / MiB)} MiB`).join('/')} per run (by size)`).join('; ');
  console.log(`# zero-copy: sizes ${SIZES.map(sizeLabel).join(', ')}; cache ${CACHES.join(', ')}; ${totals}; ` +
    `median of ${RUNS} runs; sinks ${SINKS.join(', ')}; ${os.cpus().length} CPUs, kernel ${os.release()}`);
  console.log('# the full default run (all methods, both cache modes) is meant to take under 15 minutes; ' +
    'the elapsed time is printed at the end');
  const proofs: string[] = [];
  const handshake = new Map<string, number>();
  if (CACHES.includes('cold')) {
    const dc = dropCachesStatus();
    console.log(`# cold: ${dc}; using fdatasync + posix_fadvise(POSIX_FADV_DONTNEED) on the source instead`);
    for (const size of SIZES) {
      proofs.push(residencyProof(zcCache, ensureSource(size, 'cold', zcCache)));
      console.log(`# cold: ${proofs[proofs.length - 1]}`);
    }
    proofs.unshift(dc);
    if (straceOk) {
      // The handshake's own calls per repetition (write + read on the FIFOs, two CPU-clock reads).
      for (const h of handshakeRunners(() => zc)) {
        if (h.unavailable()) continue;
        const n = await callsPerRep(zc, zcCache, h, ensureSource(4096, 'cold', zcCache), 'file', 4096, 'cold', 256);
        handshake.set(h.name === 'none' ? 'C' : 'ours', n);
        console.log(`# cold handshake, ${h.label} sender: ${n.toFixed(2)} system calls per repetition ` +
          '(subtracted from the cold syscalls/MiB)');
      }
    }
  }
  for (const r of runners) {
    for (const sink of r.sinks.filter((s) => SINKS.includes(s))) {
      const why = r.unavailable(sink);
      if (why) {
        skipped.push(`${r.label} -> ${sink}: ${why}`);
        console.log(`# skipping ${r.label} -> ${sink}: ${why}`);
      }
    }
  }
  for (const cache of CACHES) {
    for (const sink of SINKS) {
      for (const size of SIZES) {
        const src = ensureSource(size, cache, zcCache);
        const total = cache === 'warm' ? TOTAL : coldTotal(size);
        for (const r of runners) {
          if (!r.sinks.includes(sink) || !r.caches.includes(cache) || r.unavailable(sink)) continue;
          const results: RunResult[] = [];
          const hs = handshake.get(r.name.startsWith('ours-') ? 'ours' : 'C') ?? 0;
          const cell: Partial<Cell> = {};
          try {
            for (let i = 0; i < RUNS; i++) results.push(await oneRun(zc, zcCache, r, src, sink, total, cache));
            if (straceOk) cell.syscallsPerMiB = await syscallsPerMiB(zc, zcCache, r, src, sink, size, cache, hs);
          } catch (e) {
            const msg = `${r.label} -> ${sink}, ${sizeLabel(size)}, ${cache}: failed: ` +
              `${(e as Error).message.split('\n').slice(0, 3).join(' ')}`;
            console.log(`# ${msg}`);
            skipped.push(msg);
            continue;
          }
          methods.set(r.name, r.label);
          const gbpsRuns = results.map((x) => x.bytes / x.seconds / 1e9);
          Object.assign(cell, {
            method: r.name, sink, size, cache, total, runs: gbpsRuns,
            gbps: median(gbpsRuns),
            cpuPerGiB: median(results.map((x) => x.cpuSeconds / (x.bytes / GiB))),
            readerCpuPerGiB: sink === 'tcp' ? median(results.map((x) => x.readerCpuSeconds! / (x.bytes / GiB))) : undefined,
          });
          if (cache === 'cold') {
            cell.residentMaxPct = Math.max(...results.map((x) => (100 * x.residentMax!) / x.pages!));
            cell.extraRounds = results.reduce((a, x) => a + x.evictor!.extraRounds, 0);
            if (!results.every((x) => x.evictor!.evictions === x.bytes / size)) {
              const msg = `${r.label} -> ${sink}, ${sizeLabel(size)}, cold: the evictor did not run before every repetition`;
              console.log(`# ${msg}`);
              skipped.push(msg);
              continue;
            }
          }
          cells.push(cell as Cell);
          console.log(`# ${cache} ${sink} ${sizeLabel(size).padStart(7)} ${r.label}: ${cell.gbps!.toFixed(3)} GB/s ` +
            `(runs ${gbpsRuns.map((g) => g.toFixed(2)).join(' ')}), CPU ${cell.cpuPerGiB!.toFixed(3)} s/GiB` +
            (cell.syscallsPerMiB !== undefined ? `, ${cell.syscallsPerMiB.toFixed(1)} syscalls/MiB` : '') +
            (cache === 'cold' ? `, resident at start of a repetition: max ${cell.residentMaxPct!.toFixed(1)}%` +
              ` (extra fadvise rounds ${cell.extraRounds})` : ''));
          if (cell.residentMaxPct! > 0) console.log(`# WARNING: ${r.label} ${sizeLabel(size)}: source not fully evicted`);
        }
      }
    }
  }

  // Tables: one per cache mode and sink, one row per method x size.
  const md: string[] = [];
  for (const cache of CACHES) {
    for (const sink of SINKS) {
      const rows = [['method', 'size', 'GB/s (median)', 'vs read+write', ...(cache === 'cold' ? ['vs warm'] : []),
        'sender CPU s/GiB', ...(sink === 'tcp' ? ['reader CPU s/GiB'] : []), 'syscalls/MiB',
        ...(cache === 'cold' ? ['resident at start (max)'] : []), 'GB/s of each run']];
      for (const size of SIZES) {
        const here = cells.filter((c) => c.sink === sink && c.size === size && c.cache === cache);
        const base = here.find((c) => c.method === 'rw');
        for (const c of here) {
          const warm = cells.find((w) => w.cache === 'warm' && w.sink === sink && w.size === size && w.method === c.method);
          rows.push([methods.get(c.method)!, sizeLabel(size), c.gbps.toFixed(3),
            base ? `${(c.gbps / base.gbps).toFixed(2)}x` : 'n/a',
            ...(cache === 'cold' ? [warm ? `${(c.gbps / warm.gbps).toFixed(2)}x` : 'n/a'] : []),
            c.cpuPerGiB.toFixed(3),
            ...(sink === 'tcp' ? [c.readerCpuPerGiB!.toFixed(3)] : []),
            fmtCalls(c.syscallsPerMiB),
            ...(cache === 'cold' ? [`${c.residentMaxPct! === 0 ? '0' : c.residentMaxPct!.toFixed(1)}%`] : []),
            c.runs.map((g) => g.toFixed(2)).join(' ')]);
        }
      }
      console.log('');
      console.log(`file -> ${sink}, ${cacheLabel(cache)}`);
      printTable(rows);
      const where = sink === 'tcp' ? 'TCP socket on loopback (a reader process drains and counts)'
        : cache === 'warm' ? 'file (page cache, no fsync)' : 'file (destination fdatasynced between repetitions, untimed)';
      md.push(`### file -> ${where}, ${cacheLabel(cache)}`, '', markdownTable(rows), '');
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const took = `${Math.floor(elapsed / 60)} min ${Math.round(elapsed % 60)} s`;
  // Trial runs (another build's modules, a subset of methods or cache modes) write to bench/out/, not the results.
  const trial = args.has('lib-dir') || args.has('methods') || args.has('no-write') || args.has('cache');
  const outDir = trial ? path.join(ROOT, 'bench', 'out') : path.join(ROOT, 'bench');
  fs.mkdirSync(outDir, { recursive: true });
  const svg = svgChart(cells, methods);
  fs.writeFileSync(path.join(outDir, 'zero-copy.svg'), svg);
  const cmd = `node dist/bench/zero-copy.js ${process.argv.slice(2).join(' ')}`.trim();
  const hsText = [...handshake].map(([k, v]) => `${v.toFixed(2)} (${k === 'C' ? 'C' : 'runtime'})`).join(', ');
  const report = [
    '# Zero-copy matrix (bench/zero-copy)', '',
    '<!-- written by bench/zero-copy.ts; hand-written notes go in the section at the end -->', '',
    `Generated ${new Date().toISOString()} by \`flock -x /tmp/bench.lock ${cmd}\` (npm run bench:zero-copy); ` +
    `the whole run took ${took}.`,
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), kernel ${os.release()}, Node ${process.version}; ` +
    'source and destination files on ext4 on a virtio-blk disk.', '',
    `Each run moves the source file repeatedly until the run's total has moved (page cache warm: ` +
    `${fmt(TOTAL / MiB)} MiB; cold: ${SIZES.map((s) => `${fmt(coldTotal(s) / MiB)} MiB for ${sizeLabel(s)}`).join(', ')}, ` +
    'less because every repetition reads the disk); ' +
    `each cell is the median of ${RUNS} runs. GB/s = 1e9 bytes per second. CPU = user + system time of the ` +
    'sender process (getrusage; process.cpuUsage for the JS runners) per GiB moved; for TCP the reader (a separate ' +
    'C process, blocking read(2) into 256 KiB) reports its own. Syscalls/MiB: `strace -c -f` on the sender only ' +
    '(the reader is not traced), (calls of R repetitions - calls of one) / ((R - 1) x size); strace slows the ' +
    'sender, so those runs are not used for timing. C methods use blocking system calls, one transfer at a time.', '',
    '**Page cache warm**: the source is read into the page cache before a cell and stays there; the file ' +
    'destination is rewritten in the page cache, never fsynced. ' +
    '**Page cache cold**: before every timed repetition the sender stops its clock and CPU accounting and asks an ' +
    'evictor process (bench/c/zc-cache.c, through two FIFOs) to (1) for TCP, wait until the reader has consumed ' +
    'every byte sent so far, (2) for a file destination, fdatasync it (so no writeback of the previous repetition ' +
    'overlaps the next: the destination\'s disk writes are *not* in the timed figures, for every method alike), ' +
    '(3) evict the source with posix_fadvise(POSIX_FADV_DONTNEED), repeated while mincore(2) still shows pages of ' +
    'it resident (after sendfile/splice to TCP some pages stay referenced by socket buffers until ACKed). ' +
    '"resident at start (max)" is the largest share of the source found resident (mincore) when a timed ' +
    'repetition started, over all runs of the cell. The system calls of that handshake ' +
    (hsText ? `(per repetition: ${hsText}, measured with a sender that moves nothing) ` : '') +
    'are subtracted from the cold syscalls/MiB. The O_DIRECT methods read with O_DIRECT into a 1 MiB aligned ' +
    'buffer (the file size below 1 MiB) and run in the cold mode only. "vs warm" = cold GB/s / warm GB/s of the ' +
    'same method. The disk is a virtio-blk device: "cold" means "not in this guest\'s page cache"; the host may ' +
    'still cache the image.', '',
    ...(proofs.length ? ['Residency check (mincore) of the cold sources at the start of the run:', '',
      ...proofs.map((p) => `- ${p}`), ''] : []),
    '![GB/s by method and size](zero-copy.svg)', '',
    ...md,
    skipped.length ? '### Not run\n\n' + skipped.map((s) => `- ${s}`).join('\n') + '\n' : '',
  ].join('\n');
  // A full run replaces the generated section of bench/RESULTS.md (between the markers); the
  // hand-written notes after it stay. Trial runs write a file of their own into bench/out/.
  const BEGIN = '<!-- zero-copy:begin (generated by bench/zero-copy.ts) -->';
  const END = '<!-- zero-copy:end -->';
  const section = report.replace(/^#/gm, '##');
  const resultsFile = path.join(outDir, trial ? 'RESULTS-zero-copy.md' : 'RESULTS.md');
  const old = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '';
  const a = old.indexOf(BEGIN);
  const b = old.indexOf(END);
  const body = `${BEGIN}\n${section}\n${END}`;
  fs.writeFileSync(resultsFile, a >= 0 && b > a ? old.slice(0, a) + body + old.slice(b + END.length) : `${old}\n${body}\n`);
  console.log(`\nwrote ${path.relative(ROOT, resultsFile)} and ${path.relative(ROOT, path.join(outDir, 'zero-copy.svg'))}`);
  console.log(`# elapsed ${took}`);
}

const runnerName = args.get('runner');
(runnerName
  ? runtimeRun(runnerName, args.get('src')!, args.get('sink') as Sink, args.get('target')!, numArg(args, 'total', 0),
    args.get('cold')?.split(',') as [string, string] | undefined)
  : main()
).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
