/**
 * Shared helpers for the benchmarks: paths, compiling the C references,
 * installing the Debian packages a bench needs, spawning servers, waiting for
 * ports, reading RSS, and printing tables of figures with ratios.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** The repository root (benches run from dist/bench/). */
export const ROOT = path.resolve(__dirname, '..', '..');
/** Where compiled C programs go (git-ignored). */
export const OUT = path.join(ROOT, 'bench', 'out');
/** Our ring layer, used by the C references that need io_uring. */
export const RING_SOURCES = [path.join(ROOT, 'native', 'uring', 'ring.c')];

/** Parses `--name=value` / `--name value` / `--flag` arguments. */
export function parseArgs(argv = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out.set(a.slice(2), argv[++i]!);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

/** Numeric argument with a default. */
export function numArg(args: Map<string, string>, name: string, dflt: number): number {
  const v = args.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${name} must be a number, got ${v}`);
  return n;
}

/** Whether an executable is on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure `cmd` exists, installing Debian package `pkg` with apt-get when
 * it does not (needs root). Says so when it installs. Returns whether `cmd`
 * is available afterwards.
 */
export function ensurePackage(cmd: string, pkg: string): boolean {
  if (hasCommand(cmd)) return true;
  if (process.getuid?.() !== 0) {
    console.log(`# ${cmd} missing and not root: install the Debian package "${pkg}" to enable this part`);
    return false;
  }
  console.log(`# ${cmd} missing: running apt-get install -y ${pkg}`);
  let r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit' });
  }
  return hasCommand(cmd);
}

/**
 * Compiles bench/c/<name>.c (plus `extra` sources, e.g. {@link RING_SOURCES})
 * into bench/out/<name> with gcc -O2 -Wall -Wextra, unless the binary is newer
 * than every source and header. Returns the binary's path.
 */
export function compileC(name: string, extra: string[] = []): string {
  ensurePackage('gcc', 'gcc');
  fs.mkdirSync(OUT, { recursive: true });
  const src = path.join(ROOT, 'bench', 'c', `${name}.c`);
  const bin = path.join(OUT, name);
  const uringDir = path.join(ROOT, 'native', 'uring');
  const deps = [src, ...extra, ...fs.readdirSync(uringDir).filter((f) => f.endsWith('.h')).map((f) => path.join(uringDir, f))];
  const newest = Math.max(...deps.map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= newest) return bin;
  const argv = ['-O2', '-Wall', '-Wextra', '-I', uringDir, '-o', bin, src, ...extra];
  console.log(`# gcc ${argv.map((a) => path.relative(ROOT, a) || a).join(' ')}`);
  execFileSync('gcc', argv, { stdio: 'inherit' });
  return bin;
}

/** Runs a program to completion; returns stdout (throws with stderr on failure). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, {
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  }
  return r.stdout;
}

/** Runs a program and parses the last line of its stdout as JSON. */
export function runJson<T>(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): T {
  const out = run(cmd, args, opts).trim().split('\n');
  return JSON.parse(out[out.length - 1]!) as T;
}

/** Starts a long-running child (a server); its stderr is passed through. */
export function startProcess(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
}

/** Stops a child started by {@link startProcess} and waits for it to exit. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** Resolves once a TCP connect to host:port succeeds (polls until `timeoutMs`). */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A free TCP port on loopback (asks the kernel for one). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resident set size of a process in KiB (VmRSS from /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Formats a number with thousands separators and `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `a / b` as "1.23x" (or "n/a"). */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  return `${(a / b).toFixed(2)}x`;
}

/** Prints rows as an aligned plain-text table (first row is the header). */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** Rows as a markdown table (first row is the header). */
export function markdownTable(rows: string[][]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => '---')), ...rows.slice(1).map(line)].join('\n');
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The node binary and flags to start a child bench process with. */
export function nodeArgv(script: string, args: string[]): [string, string[]] {
  return [process.execPath, [script, ...args]];
}
