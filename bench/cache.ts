/**
 * bench/cache: page-cache control for the cold-cache cells of bench/zero-copy.
 *
 * The eviction itself is done by bench/c/zc-cache.c, in a process of its own
 * (so its system calls are not counted with the sender's): `resident` and
 * `evict` report a file's page-cache residency (mincore(2)), `evictor` serves
 * one cold run through two FIFOs. The sender side of that handshake is
 * {@link ColdClient} here for the runtime's runners and `cold_evict` in
 * bench/c/zc-sync.c for the C ones.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { run } from './util';

/** Whether the source file stays in the page cache between repetitions or is evicted before each. */
export type CacheMode = 'warm' | 'cold';

/** Page-cache residency of one file. */
export interface Residency { pages: number; resident: number }

/** What the evictor reports at the end of a cold run. */
export interface EvictorSummary {
  evictions: number;
  pages: number;
  /** Largest number of the source's pages still resident when a repetition started. */
  maxResident: number;
  /** fadvise rounds beyond the first (pages still referenced by socket buffers). */
  extraRounds: number;
  /** Rounds that flushed deferred socket-buffer frees on every CPU (see bench/c/zc-cache.c). */
  flushes: number;
  waitReaderSeconds: number;
  evictSeconds: number;
}

/**
 * Says whether /proc/sys/vm/drop_caches could be written (opened for
 * writing; nothing is written). The bench does not use it either way: it
 * drops every process's cache, and other work shares this machine.
 */
export function dropCachesStatus(): string {
  const file = '/proc/sys/vm/drop_caches';
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY));
    return `${file} is writable here (root) but not used: it would drop the whole machine's page cache`;
  } catch (e) {
    return `${file} is not writable here (${(e as NodeJS.ErrnoException).code})`;
  }
}

/** Residency of `file` (mincore on an untouched mapping). */
export function residency(zcCache: string, file: string): Residency {
  return JSON.parse(run(zcCache, ['resident', file]).trim()) as Residency;
}

/** fdatasync + POSIX_FADV_DONTNEED on `file`; returns the residency afterwards. */
export function evictFile(zcCache: string, file: string): Residency {
  return JSON.parse(run(zcCache, ['evict', file]).trim()) as Residency;
}

/** `resident / pages` as a percentage string. */
export function pct(r: { resident: number; pages: number }): string {
  const p = (100 * r.resident) / r.pages;
  return `${p === 0 || p === 100 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** The two FIFOs of the sender/evictor handshake (created once, in `dir`). */
export function makeFifos(dir: string): [string, string] {
  const fifos: [string, string] = [path.join(dir, 'zc-evict-req'), path.join(dir, 'zc-evict-rep')];
  for (const f of fifos) {
    if (fs.existsSync(f) && fs.statSync(f).isFIFO()) continue;
    fs.rmSync(f, { force: true });
    const r = spawnSync('mkfifo', [f]);
    if (r.status !== 0) throw new Error(`mkfifo ${f} failed: ${r.stderr}`);
  }
  return fifos;
}

/** A zeroed 8-byte file the TCP reader stores its running byte count in (reset for every run). */
export function resetProgress(dir: string): string {
  const file = path.join(dir, 'zc-progress');
  fs.writeFileSync(file, Buffer.alloc(8));
  return file;
}

/** A running evictor: its process and its summary. */
export interface Evictor {
  /** Stops it (when the sender failed before opening the FIFOs). */
  kill(): void;
  /** Resolves with the summary once the sender has closed the request FIFO. */
  done: Promise<EvictorSummary>;
}

/** Starts the evictor of one cold run (`dst`: the file sink's path; `progress`: the TCP reader's count). */
export function startEvictor(zcCache: string, src: string, dst: string | undefined, progress: string | undefined,
  fifos: [string, string]): Evictor {
  const child = spawn(zcCache, ['evictor', src, dst ?? '-', progress ?? '-', ...fifos],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<EvictorSummary>((resolve, reject) => {
    child.once('close', (code, signal) => { // 'close': after its stdout has ended
      if (code !== 0) reject(new Error(`zc-cache evictor exited with ${code ?? signal}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as EvictorSummary);
    });
  });
  return { kill: () => child.kill(), done };
}

/**
 * The sender side of the handshake for the runtime's runners: before every
 * repetition, {@link ColdClient.evict} asks the evictor to evict the source
 * and blocks until it has (synchronous system calls, no event-loop turn);
 * the wall-clock and CPU time spent in it are summed so that the runner can
 * subtract them.
 */
export class ColdClient {
  /** Wall-clock seconds spent in {@link ColdClient.evict}. */
  wallSeconds = 0;
  /** CPU seconds (user + system) spent in {@link ColdClient.evict}. */
  cpuSeconds = 0;
  /** Largest residency the evictor replied. */
  maxResident = 0;
  /** Pages of the source. */
  pages = 0;
  readonly #req: number;
  readonly #rep: number;
  readonly #reply = Buffer.alloc(8);

  /** Opens the FIFOs in the evictor's order (request first), which blocks until it has opened them too. */
  constructor(fifos: [string, string]) {
    this.#req = fs.openSync(fifos[0], fs.constants.O_WRONLY);
    this.#rep = fs.openSync(fifos[1], fs.constants.O_RDONLY);
  }

  /** Evicts the source; returns once the evictor replied. */
  evict(): void {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    fs.writeSync(this.#req, 'e');
    for (let got = 0; got < 8;) {
      const n = fs.readSync(this.#rep, this.#reply, got, 8 - got, null);
      if (n === 0) throw new Error('the evictor closed its FIFO');
      got += n;
    }
    this.maxResident = Math.max(this.maxResident, this.#reply.readUInt32LE(0));
    this.pages = this.#reply.readUInt32LE(4);
    const c = process.cpuUsage(c0);
    this.cpuSeconds += (c.user + c.system) / 1e6;
    this.wallSeconds += (performance.now() - t0) / 1000;
  }

  /** Closes the FIFOs (the evictor then prints its summary and exits). */
  close(): void {
    fs.closeSync(this.#req);
    fs.closeSync(this.#rep);
  }
}
