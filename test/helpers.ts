/**
 * Shared test helpers: temporary directories, fd counting, child processes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = 'uring-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Valgrind keeps its own fds at the top of the fd table and opens more lazily. */
const UNDER_VALGRIND = fs.readdirSync('/proc/self/fd').some((fd) => Number(fd) > 1000 &&
  /valgrind|vgdb/.test((() => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } })()));

/** Number of open file descriptors of this process (valgrind's own excluded). */
export function openFds(): number {
  const fds = fs.readdirSync('/proc/self/fd');
  if (!UNDER_VALGRIND) return fds.length;
  return fds.filter((fd) => Number(fd) < 19000).length; // valgrind's sit just below its 20000 limit
}

/** What `/proc/self/fd/<fd>` says fd `fd` is open on now; undefined when it is closed. */
export function fdTarget(fd: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Settles within `ms` or says it did not (a hang would otherwise stall the suite). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Marks the running test as skipped because the machine cannot run it (not because it failed): prints the
 * marker that test/run.js counts, so the test is reported as skipped and not as passed. Call it, then return.
 */
export function skipTest(name: string, reason: string): void {
  process.stdout.write(`\n# uring-test-skipped: ${name}: ${reason}\n`);
}

/** The compiled library root (dist/lib) as an absolute path, for child scripts. */
export const LIB = path.join(__dirname, '..', 'lib');

/** Runs a script with node in a child process and returns its result. */
export function runNode(script: string, opts: { env?: NodeJS.ProcessEnv; timeout?: number; args?: string[] } = {}):
  SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...(opts.args ?? []), '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: opts.timeout ?? 20_000,
  });
}

/** Calls global.gc (tests run with --expose-gc) or throws if unavailable. */
export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run the tests with --expose-gc');
  g();
}

/** Deterministic pseudo-random numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
