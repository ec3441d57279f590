/**
 * Shared machinery of bench/http.ts and bench/proxy.ts: install the tools,
 * start servers and wait for their port, kill everything on exit or Ctrl-C,
 * run wrk and read its figures, and sum a process tree's CPU time.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from '../util';

const children = new Set<ChildProcess>();

/** SIGKILL the process group of `c` (servers run detached, as group leaders, so nginx workers go too). */
function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

function killAll(): void {
  for (const c of children) killGroup(c);
  children.clear();
}

process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** Install the Debian packages whose command is missing; says so on stdout. */
export function ensureTools(tools: Array<[command: string, pkg: string]>): void {
  const missing = tools.filter(([cmd]) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return;
  const pkgs = missing.map(([, p]) => p);
  console.log(`installing missing tools: apt-get install -y ${pkgs.join(' ')}`);
  execFileSync('apt-get', ['install', '-y', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A temp dir holding `names` filled with a byte pattern of the given sizes. */
export function makeFiles(prefix: string, files: Array<[name: string, size: number]>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const [name, size] of files) {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
    fs.writeFileSync(path.join(dir, name), b);
  }
  return dir;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A started server: its process and the first line it printed (if any). */
export interface Server {
  child: ChildProcess;
  line: string;
  stop(): Promise<void>;
}

/**
 * Start `cmd args` and resolve once 127.0.0.1:`port` accepts connections
 * (and, with `readyLine`, once the process printed a line matching it).
 * Refuses a port that is already taken, so a stale server is never measured.
 */
export async function startServer(cmd: string, args: string[], port: number, readyLine?: RegExp): Promise<Server> {
  if (await canConnect(port)) throw new Error(`port ${port} is already in use`);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let out = '';
  let err = '';
  let exited: string | undefined;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.once('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      killGroup(child);
      throw new Error(`${cmd} ${args.join(' ')} ${exited}\n${out}${err}`);
    }
    if ((!readyLine || readyLine.test(out)) && (await canConnect(port))) break;
    if (Date.now() > deadline) {
      killGroup(child);
      throw new Error(`${cmd} did not listen on ${port} within 15 s\n${out}${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // The whole group dies (nginx workers included); resolve when stdout/stderr
  // closed, i.e. no process of the group holds them any more.
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      children.delete(child);
      let open = 2;
      const closed = (): void => void (--open === 0 && resolve());
      if (child.stdout!.closed) closed();
      else child.stdout!.once('close', closed);
      if (child.stderr!.closed) closed();
      else child.stderr!.once('close', closed);
      killGroup(child);
    });
  return { child, line: out.split('\n')[0] ?? '', stop };
}

/** Process ids of `pid` and all its descendants. */
function tree(pid: number): number[] {
  const out = [pid];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const kids = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) out.push(...tree(Number(k)));
    }
  } catch {
    // gone
  }
  return out;
}

/** User+system CPU seconds used so far by `pid` and its descendants (threads included). */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / 100; // USER_HZ
}

/** What wrk measured. */
export interface WrkResult {
  rps: number;
  requests: number;
  /** Bytes wrk read per request (headers + body), from its "N read" total. */
  bytesPerRequest: number;
  command: string;
}

const UNIT: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/**
 * Run wrk against `url`. Throws if wrk saw non-2xx answers, socket errors, or
 * fewer bytes per request than `minBytes` (less 2% for wrk rounding its total) (a server answering fast with the
 * wrong thing must not win).
 */
export function wrk(url: string, seconds: number, connections: number, minBytes: number): WrkResult {
  const args = wrkArgs(url, seconds, connections);
  return parseWrk(execFileSync('wrk', args, { encoding: 'utf8' }), `wrk ${args.join(' ')}`, minBytes);
}

/** wrk's arguments for one thread, `connections` connections, `seconds` seconds. */
export function wrkArgs(url: string, seconds: number, connections: number): string[] {
  return ['-t1', `-c${connections}`, `-d${seconds}s`, url];
}

/** What `command` (a wrk run) printed, checked as {@link wrk} describes. */
export function parseWrk(out: string, command: string, minBytes: number): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const read = /requests in [\d.]+\w+, ([\d.]+)(\w+) read/.exec(out);
  const bytes = read ? Number(read[1]) * (UNIT[read[2]!] ?? NaN) : NaN;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (/Non-2xx|Socket errors/.test(out) || !(requests > 0) || !(bytes / requests >= minBytes * 0.98)) {
    throw new Error(`bad run of ${command}:\n${out}`);
  }
  return { rps, requests, bytesPerRequest: bytes / requests, command };
}

/** One measured row. */
export interface Row {
  label: string;
  file: string;
  size: number;
  rps: number;
  /** Body bytes per second / 1e9 (requests/s x file size). */
  gbps: number;
  /** Server-side CPU microseconds per request (whole process tree). */
  cpuUsPerReq: number;
}

/** Warm up for 1 s, then measure `seconds` with wrk while counting the server tree's CPU time. */
export function measure(label: string, pids: number[], url: string, file: string, size: number, seconds: number, connections: number): Row {
  wrk(url, 1, connections, size);
  const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const r = wrk(url, seconds, connections, size);
  const cpu = pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0;
  const row = { label, file, size, rps: r.rps, gbps: (r.rps * size) / 1e9, cpuUsPerReq: (cpu / r.requests) * 1e6 };
  console.log(`  measured: ${formatRow(row, [])}`);
  return row;
}

/** Format a row with ratios against the named reference rows (same file). */
export function formatRow(r: Row, refs: Array<[name: string, row: Row | undefined]>): string {
  const ratios = refs
    .map(([n, ref]) => (ref ? `${(r.rps / ref.rps).toFixed(2)}x ${n}` : ''))
    .filter(Boolean)
    .join('  ');
  return (
    `${r.label.padEnd(34)} ${r.file.padEnd(6)} ${r.rps.toFixed(0).padStart(8)} req/s ${r.gbps.toFixed(2).padStart(6)} GB/s ` +
    `${r.cpuUsPerReq.toFixed(1).padStart(7)} us CPU/req  ${ratios}`
  );
}

/**
 * The summary of several rounds: for each contender and file, the median
 * requests/s and CPU per request, and the median of the ratios to each
 * reference (`[name, label]`) taken within each round, with every round's
 * ratio. On a shared, noisy machine the per-round ratio is the robust figure.
 */
export function printMedians(perRound: Array<Record<string, Row[]>>, files: Array<[string, number]>,
  refs: Array<[name: string, label: string]>): void {
  console.log(`median of ${perRound.length} rounds (ratios taken within each round, then the median):`);
  for (const label of Object.keys(perRound[0] ?? {})) {
    files.forEach(([name], i) => {
      const own = perRound.map((r) => r[label]?.[i]).filter((r): r is Row => r !== undefined);
      if (own.length === 0) return;
      const ratios = refs.map(([refName, refLabel]) => {
        const xs = perRound.flatMap((r) => {
          const a = r[label]?.[i];
          const b = r[refLabel]?.[i];
          return a && b ? [a.rps / b.rps] : [];
        });
        return xs.length ? `${median(xs).toFixed(2)}x ${refName} (rounds: ${xs.map((x) => x.toFixed(2)).join(', ')})` : '';
      });
      console.log(`${label.padEnd(34)} ${name.padEnd(6)} ${median(own.map((r) => r.rps)).toFixed(0).padStart(8)} req/s ` +
        `${median(own.map((r) => r.cpuUsPerReq)).toFixed(1).padStart(7)} us CPU/req  ${ratios.filter(Boolean).join('  ')}`);
    });
  }
}
