/**
 * Helpers shared by the net tests: fd counting, event waits, and re-running
 * a test file with the node:net fallback forced.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeNet from 'node:net';
import * as path from 'node:path';

/** Open file descriptors of this process. */
export { openFds as fdCount } from './helpers';

/** Resolves with the first emission of `event` (rejects on 'error' unless that is the event). */
export function once<T = unknown>(em: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onErr = (e: Error): void => {
      em.off(event, on);
      reject(e);
    };
    const on = (v: T): void => {
      if (event !== 'error') em.off('error', onErr);
      resolve(v);
    };
    em.once(event, on);
    if (event !== 'error') em.once('error', onErr);
  });
}

/** Polls `cond` on each turn of the event loop until it holds (or fails after `ms`). */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** True when this process runs with the fallback forced. */
export const forcedFallback = process.env.URING_BACKEND === 'node';

/**
 * Runs the compiled test file `file` (e.g. 'net-facade.test.js') again in a
 * child process with URING_BACKEND=node. Returns its exit status and output.
 */
export function runWithFallback(file: string): { status: number | null; output: string } {
  // uvu's package exports hide bin.js: find it next to the resolved entry point.
  const uvu = path.join(path.dirname(require.resolve('uvu')), '..', 'bin.js');
  const dir = path.join(__dirname);
  const r = spawnSync(process.execPath, ['--expose-gc', uvu, dir, `^${file.replace(/\./g, '\\.')}$`], {
    env: { ...process.env, URING_BACKEND: 'node', FORCE_COLOR: '0' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * Registers, as the last test of a net test file, the whole file run again
 * with the node:net fallback forced: it must exit 0 with every test passed.
 */
export function testWithFallback(t: Test, file: string): void {
  t('the same tests pass with the node:net fallback forced', () => {
    if (forcedFallback) return;
    const r = runWithFallback(file);
    assert.is(r.status, 0, r.output);
    const total = /Total:\s+(\d+)/.exec(r.output)?.[1];
    const passed = /Passed:\s+(\d+)/.exec(r.output)?.[1];
    assert.ok(total !== undefined && Number(total) > 1 && passed === total, `passed ${passed} of ${total}\n${r.output}`);
  });
}

/** Open fds of this process as "n:target", for leak reports that name what leaked. */
export function fdList(): string[] {
  return fs.readdirSync('/proc/self/fd').map((f) => {
    try { return `${f}:${fs.readlinkSync(`/proc/self/fd/${f}`)}`; } catch { return f; }
  });
}

/** A port nothing listens on right now, on `host` (default: every address). */
export async function freePort(host?: string): Promise<number> {
  const s = nodeNet.createServer().listen(0, host);
  await once(s, 'listening');
  const port = (s.address() as nodeNet.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Everything `s` delivers until its end, as one Buffer (rejects on its 'error'). Reading starts now. */
export function readToEnd(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}
