/**
 * bench/zero-copy: the zero-copy matrix. Moves a file of 4 KiB, 64 KiB,
 * 1 MiB and 64 MiB (in the page cache) to a TCP socket on loopback (a reader
 * process drains and counts) or to another file, by each method, repeatedly
 * until --total-mib has moved; each cell is run --runs times and the medians
 * are reported: throughput, sender CPU seconds per GiB (getrusage / process.cpuUsage,
 * user + system), the reader's CPU per GiB (TCP), and system calls per MiB
 * counted with `strace -c -f` on the sender (the reader is a separate,
 * untraced process; start-up calls are removed by subtracting a one-repetition run).
 *
 * Methods: the plain system calls of bench/c/zc-sync.c (read+write, mmap+write,
 * sendfile, splice via a pipe, vmsplice, copy_file_range), and the runtime's
 * own methods through RUNTIME_RUNNERS below, each included only when the
 * module it needs exists in dist/lib (nothing is simulated).
 *
 * Writes its section of bench/RESULTS.md (between the zero-copy markers) and bench/zero-copy.svg (trial runs with --lib-dir,
 * --methods or --no-write write them into bench/out/ instead).
 *
 * usage: node dist/bench/zero-copy.js [--runs 5] [--total-mib 256] [--sizes 4096,65536,1048576,67108864]
 *          [--sinks tcp,file] [--methods rw,mmap,...] [--no-strace] [--lib-dir DIR]
 * (--lib-dir: load the runtime's modules from another build's dist/lib, to try the hooks;
 *  default dist/lib of this checkout)
 * Internal: --runner <name> --src P --sink tcp|file --target PORT|PATH --total N
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Ring } from '../lib/ring';
import {
  compileC, ensurePackage, fmt, markdownTable, median, numArg, parseArgs, printTable, ROOT, run,
} from './util';

/** What one transfer run reports (C and JS runners print the same JSON). */
interface RunResult { bytes: number; seconds: number; cpuSeconds: number; readerCpuSeconds?: number }
type Sink = 'tcp' | 'file';

interface Cell {
  method: string;
  sink: Sink;
  size: number;
  gbps: number;
  cpuPerGiB: number;
  readerCpuPerGiB?: number;
  syscallsPerMiB?: number;
  runs: number[];
}

const args = parseArgs();
const RUNS = numArg(args, 'runs', 5);
const TOTAL = numArg(args, 'total-mib', 256) * 2 ** 20;
const SIZES = (args.get('sizes') ?? '4096,65536,1048576,67108864').split(',').map(Number);
const SINKS = (args.get('sinks') ?? 'tcp,file').split(',') as Sink[];
const ONLY_METHODS = args.get('methods')?.split(',');
const DIR = path.join(os.tmpdir(), 'uring-bench');
/** Where the runtime's compiled modules are loaded from (--lib-dir: another build, to try the hooks). */
const LIB = path.resolve(args.get('lib-dir') ?? path.join(ROOT, 'dist', 'lib'));
const GiB = 2 ** 30;
const MiB = 2 ** 20;

// ------------------------------------------------------------------ runners

/** A way to move the source to the sink, run as a separate process per run. */
interface Runner {
  name: string;
  label: string;
  sinks: Sink[];
  /** Why it cannot run here (into `sink`), or undefined when it can. */
  unavailable(sink?: Sink): string | undefined;
  /** argv of one run (the sender). */
  argv(src: string, sink: Sink, target: string, total: number): string[];
}

const C_METHODS: Array<[string, string, Sink[]]> = [
  ['rw', 'read + write (128 KiB buffer)', ['tcp', 'file']],
  ['mmap', 'mmap + write', ['tcp', 'file']],
  ['sendfile', 'sendfile(2)', ['tcp', 'file']],
  ['splice', 'splice(2) via 1 MiB pipe', ['tcp', 'file']],
  ['vmsplice', 'mmap + vmsplice(2) + splice(2)', ['tcp', 'file']],
  ['cfr', 'copy_file_range(2)', ['file']],
];

function cRunners(bin: () => string): Runner[] {
  return C_METHODS.map(([name, label, sinks]) => ({
    name, label: `C ${label}`, sinks, unavailable: () => undefined,
    argv: (src, sink, target, total) => [bin(), 'send', name, src, sink, target, String(total)],
  }));
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
const RUNTIME_RUNNERS: Array<{ name: string; label: string; sinks: Sink[]; needs: string[] }> = [
  // Ring.read + Ring.write (file) / Ring.send (tcp): the baseline through the ring.
  { name: 'ours-rw', label: 'ours Ring.read + write/send', sinks: ['file', 'tcp'], needs: [] },
  // lib/ops-splice.ts transfer(): splice file -> pooled pipe -> sink, linked SQEs.
  { name: 'ours-splice', label: 'ours transfer() (splice via pipe pool)', sinks: ['file', 'tcp'], needs: ['ops-splice'] },
  // lib/copy.ts copyRange(): in-kernel file -> file copy.
  { name: 'ours-copy', label: 'ours copyRange()', sinks: ['file'], needs: ['copy'] },
  // lib/ops-net.ts Ring.sendZc(): IORING_OP_SEND_ZC from a buffer filled by Ring.read.
  { name: 'ours-sendzc', label: 'ours Ring.read + sendZc', sinks: ['tcp'], needs: ['ops-net'] },
];
// A TCP sink always needs lib/ops-net (socket, connect, send, shutdown, recv on the ring).

function runtimeRunners(): Runner[] {
  return RUNTIME_RUNNERS.map((r) => ({
    name: r.name, label: r.label, sinks: r.sinks,
    unavailable: (sink?: Sink) => {
      const needs = sink === 'tcp' && !r.needs.includes('ops-net') ? [...r.needs, 'ops-net'] : r.needs;
      const missing = needs.filter((m) => !fs.existsSync(path.join(LIB, `${m}.js`)));
      return missing.length ? `needs ${missing.map((m) => `lib/${m}.js`).join(', ')} (not in ${LIB})` : undefined;
    },
    argv: (src, sink, target, total) => [process.execPath, __filename, '--runner', r.name, '--src', src,
      '--sink', sink, '--target', target, '--total', String(total), '--lib-dir', LIB],
  }));
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
async function runtimeRun(name: string, src: string, sink: Sink, target: string, total: number): Promise<void> {
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
  } else {
    throw new RangeError(`unknown runner ${name}`);
  }
  const reps = Math.max(1, Math.ceil(total / size));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await once();
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
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await ring.close(out);
  fs.closeSync(srcFd);
  ring.destroy();
  console.log(JSON.stringify({ bytes: reps * size, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
}

// ------------------------------------------------------------------ driver

function ensureSource(size: number): string {
  fs.mkdirSync(DIR, { recursive: true });
  const file = path.join(DIR, `zc-src-${size}.dat`);
  if (!fs.existsSync(file) || fs.statSync(file).size !== size) {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(file, b);
  }
  fs.readFileSync(file); // into the page cache
  return file;
}

/** Runs a C reader (for TCP) and the sender; returns the sender's result plus the reader's CPU. */
async function oneRun(zc: string, runner: Runner, src: string, sink: Sink, total: number,
  wrap: string[] = []): Promise<RunResult> {
  let reader: ReturnType<typeof spawn> | undefined;
  let target = path.join(DIR, 'zc-dst.dat');
  let readerOut: Promise<string> | undefined;
  if (sink === 'tcp') {
    reader = spawn(zc, ['reader'], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  const argv = [...wrap, ...runner.argv(src, sink, target, total)];
  let out: string;
  try {
    out = run(argv[0]!, argv.slice(1), { timeoutMs: 300_000 });
  } catch (e) {
    reader?.kill();
    throw e;
  }
  const res = JSON.parse(out.trim().split('\n').pop()!) as RunResult;
  if (readerOut) {
    const lines = (await readerOut).trim().split('\n');
    res.readerCpuSeconds = (JSON.parse(lines[lines.length - 1]!) as { cpuSeconds: number }).cpuSeconds;
  }
  return res;
}

/** Total system calls in a `strace -c` summary file. */
function straceTotal(file: string): number {
  const line = fs.readFileSync(file, 'utf8').trim().split('\n').pop()!;
  const t = line.trim().split(/\s+/);
  return Number(t[3]);
}

/** System calls per MiB moved: (calls of R reps - calls of 1 rep) / ((R - 1) * size). */
async function syscallsPerMiB(zc: string, runner: Runner, src: string, sink: Sink, size: number): Promise<number> {
  const reps = Math.max(4, Math.ceil(16 * MiB / size));
  const outFile = path.join(DIR, 'strace.txt');
  const calls = async (total: number): Promise<number> => {
    await oneRun(zc, runner, src, sink, total, ['strace', '-c', '-f', '-o', outFile]);
    return straceTotal(outFile);
  };
  const many = await calls(reps * size);
  const one = await calls(size);
  return (many - one) / ((reps - 1) * size / MiB);
}

function sizeLabel(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : `${n / 1024} KiB`;
}

/** Grouped bar chart of GB/s, one panel per sink, hand-written SVG. */
function svgChart(cells: Cell[], methods: Map<string, string>): string {
  const colors = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  const methodList = [...methods.keys()];
  const color = (m: string) => colors[methodList.indexOf(m) % colors.length]!;
  const panelW = 560, panelH = 300, left = 60, top = 40, gap = 90;
  const sinks = SINKS.filter((s) => cells.some((c) => c.sink === s));
  const width = left + sinks.length * (panelW + gap);
  const height = top + panelH + 60 + 20 * Math.ceil(methodList.length / 2);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  sinks.forEach((sink, p) => {
    const x0 = left + p * (panelW + gap);
    const cs = cells.filter((c) => c.sink === sink);
    const max = Math.max(...cs.map((c) => c.gbps), 0.001);
    const step = Math.pow(10, Math.floor(Math.log10(max)));
    const yMax = Math.ceil(max / step) * step;
    const y = (v: number) => top + panelH - (v / yMax) * panelH;
    parts.push(`<text x="${x0 + panelW / 2}" y="${top - 15}" text-anchor="middle" font-size="14" font-weight="bold">` +
      `file -> ${sink === 'tcp' ? 'TCP socket (loopback)' : 'file'}: GB/s (median)</text>`);
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
          `height="${(top + panelH - y(c.gbps)).toFixed(1)}" fill="${color(c.method)}"><title>${esc(methods.get(c.method)!)} ` +
          `${sizeLabel(size)}: ${c.gbps.toFixed(2)} GB/s</title></rect>`);
      });
      parts.push(`<text x="${x0 + g * groupW + groupW / 2}" y="${top + panelH + 18}" text-anchor="middle">${sizeLabel(size)}</text>`);
    });
    parts.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${top + panelH}" y2="${top + panelH}" stroke="#333"/>`);
  });
  methodList.forEach((m, i) => {
    const lx = left + (i % 2) * 420, ly = top + panelH + 45 + Math.floor(i / 2) * 20;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color(m)}"/>`,
      `<text x="${lx + 18}" y="${ly}">${esc(methods.get(m)!)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

async function main(): Promise<void> {
  const zc = compileC('zc-sync');
  const straceOk = !args.has('no-strace') && ensurePackage('strace', 'strace');
  const runners = [...cRunners(() => zc), ...runtimeRunners()]
    .filter((r) => !ONLY_METHODS || ONLY_METHODS.includes(r.name));
  const methods = new Map<string, string>();
  const skipped: string[] = [];
  const cells: Cell[] = [];
  console.log(`# zero-copy: sizes ${SIZES.map(sizeLabel).join(', ')}; ${fmt(TOTAL / MiB)} MiB moved per run; ` +
    `median of ${RUNS} runs; sinks ${SINKS.join(', ')}; ${os.cpus().length} CPUs, kernel ${os.release()}`);
  for (const r of runners) {
    for (const sink of r.sinks.filter((s) => SINKS.includes(s))) {
      const why = r.unavailable(sink);
      if (why) {
        skipped.push(`${r.label} -> ${sink}: ${why}`);
        console.log(`# skipping ${r.label} -> ${sink}: ${why}`);
      }
    }
  }
  for (const sink of SINKS) {
    for (const size of SIZES) {
      const src = ensureSource(size);
      for (const r of runners) {
        if (!r.sinks.includes(sink) || r.unavailable(sink)) continue;
        const results: RunResult[] = [];
        try {
          for (let i = 0; i < RUNS; i++) results.push(await oneRun(zc, r, src, sink, TOTAL));
        } catch (e) {
          const msg = `${r.label} -> ${sink}, ${sizeLabel(size)}: failed: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`;
          console.log(`# ${msg}`);
          skipped.push(msg);
          continue;
        }
        methods.set(r.name, r.label);
        const gbpsRuns = results.map((x) => x.bytes / x.seconds / 1e9);
        const cell: Cell = {
          method: r.name, sink, size, runs: gbpsRuns,
          gbps: median(gbpsRuns),
          cpuPerGiB: median(results.map((x) => x.cpuSeconds / (x.bytes / GiB))),
          readerCpuPerGiB: sink === 'tcp' ? median(results.map((x) => x.readerCpuSeconds! / (x.bytes / GiB))) : undefined,
        };
        if (straceOk) cell.syscallsPerMiB = await syscallsPerMiB(zc, r, src, sink, size);
        cells.push(cell);
        console.log(`# ${sink} ${sizeLabel(size).padStart(7)} ${r.label}: ${cell.gbps.toFixed(3)} GB/s ` +
          `(runs ${gbpsRuns.map((g) => g.toFixed(2)).join(' ')}), CPU ${cell.cpuPerGiB.toFixed(3)} s/GiB` +
          (cell.syscallsPerMiB !== undefined ? `, ${cell.syscallsPerMiB.toFixed(1)} syscalls/MiB` : ''));
      }
    }
  }

  // Tables: one per sink, one row per method x size.
  const md: string[] = [];
  for (const sink of SINKS) {
    const rows = [['method', 'size', 'GB/s (median)', 'vs read+write', 'sender CPU s/GiB',
      ...(sink === 'tcp' ? ['reader CPU s/GiB'] : []), 'syscalls/MiB', 'GB/s of each run']];
    for (const size of SIZES) {
      const base = cells.find((c) => c.sink === sink && c.size === size && c.method === 'rw');
      for (const c of cells.filter((x) => x.sink === sink && x.size === size)) {
        rows.push([methods.get(c.method)!, sizeLabel(size), c.gbps.toFixed(3),
          base ? `${(c.gbps / base.gbps).toFixed(2)}x` : 'n/a', c.cpuPerGiB.toFixed(3),
          ...(sink === 'tcp' ? [c.readerCpuPerGiB!.toFixed(3)] : []),
          c.syscallsPerMiB !== undefined ? c.syscallsPerMiB.toFixed(c.syscallsPerMiB < 10 ? 2 : 1) : 'n/a', c.runs.map((g) => g.toFixed(2)).join(' ')]);
      }
    }
    console.log('');
    console.log(`file -> ${sink}`);
    printTable(rows);
    md.push(`### file -> ${sink === 'tcp' ? 'TCP socket on loopback (a reader process drains and counts)' : 'file (page cache, no fsync)'}`,
      '', markdownTable(rows), '');
  }
  // Trial runs (another build's modules, or a subset of methods) write to bench/out/, not the results.
  const trial = args.has('lib-dir') || args.has('methods') || args.has('no-write');
  const outDir = trial ? path.join(ROOT, 'bench', 'out') : path.join(ROOT, 'bench');
  fs.mkdirSync(outDir, { recursive: true });
  const svg = svgChart(cells, methods);
  fs.writeFileSync(path.join(outDir, 'zero-copy.svg'), svg);
  const cmd = `node dist/bench/zero-copy.js ${process.argv.slice(2).join(' ')}`.trim();
  const report = [
    '# Zero-copy matrix (bench/zero-copy)', '',
    
    `Generated ${new Date().toISOString()} by \`flock -x /tmp/bench.lock ${cmd}\` (npm run bench:zero-copy).`,
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), kernel ${os.release()}, Node ${process.version}.`, '',
    `Each run moves the source file (in the page cache) repeatedly until ${fmt(TOTAL / MiB)} MiB have moved; ` +
    `each cell is the median of ${RUNS} runs. GB/s = 1e9 bytes per second. CPU = user + system time of the ` +
    'sender process (getrusage; process.cpuUsage for the JS runners) per GiB moved; for TCP the reader (a separate ' +
    'C process, blocking read(2) into 256 KiB) reports its own. Syscalls/MiB: `strace -c -f` on the sender only ' +
    '(the reader is not traced), (calls of R repetitions - calls of one) / ((R - 1) x size); strace slows the ' +
    'sender, so those runs are not used for timing. C methods use blocking system calls, one transfer at a time.', '',
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
}

const runnerName = args.get('runner');
(runnerName
  ? runtimeRun(runnerName, args.get('src')!, args.get('sink') as Sink, args.get('target')!, numArg(args, 'total', 0))
  : main()
).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
