/**
 * Helpers for the fs facade tests: temp dirs, a seeded PRNG, a normalizer
 * that turns a result or an error into comparable data, and the rerun of a
 * whole suite on the node:fs/promises fallback (URING_BACKEND=node).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';

/** A fresh temporary directory and its cleanup. */
export function tempDir(prefix = 'uring-fs-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Number of open fds of this process. */
export { openFds } from './helpers';

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export { rng } from './helpers';

/** Whether this process is the fallback rerun. */
export const IS_CHILD = process.env.URING_FS_CHILD === '1';

/** Turns a value into plain comparable data (Buffers as hex, Stats as their stable fields). */
export function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  if (ArrayBuffer.isView(v)) return { view: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.isFile === 'function' && typeof o.mode === 'number') {
      const st = v as fs.Stats;
      return {
        stats: true, size: st.size, mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid,
        file: st.isFile(), dir: st.isDirectory(), link: st.isSymbolicLink(),
      };
    }
    if (typeof o.isDirectory === 'function' && typeof o.name === 'string') {
      const d = v as fs.Dirent;
      return { dirent: d.name, dir: d.isDirectory(), file: d.isFile() };
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) out[k] = plain(o[k]);
    return out;
  }
  return v;
}

/** Runs `fn` and returns its normalized result or error. */
export async function outcome(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: plain(await fn()) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return {
      error: err.code, name: err.name, syscall: err.syscall, path: err.path, dest: (err as { dest?: string }).dest,
      // System errors carry Node's exact message; argument errors are compared by code and class.
      message: typeof err.errno === 'number' || err.code === 'EBADF' ? err.message : undefined,
    };
  }
}

/** Every file and directory under `dir`, with file contents and permission bits. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name);
      const st = fs.lstatSync(path.join(dir, r));
      const perm = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r + '/'] = perm;
        walk(r);
      } else if (st.isFile()) {
        out[r] = `${perm}:${fs.readFileSync(path.join(dir, r)).toString('hex')}`;
      } else {
        out[r] = `${perm}:other`;
      }
    }
  };
  walk('');
  return out;
}

/**
 * Adds a test that runs this same file again in a child process with
 * URING_BACKEND=node, so the suite also covers the fallback backend.
 */
export function rerunOnNodeBackend(t: Test, file: string): void {
  if (IS_CHILD) return;
  t('the same suite passes on the node:fs/promises fallback (URING_BACKEND=node)', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', file], {
      encoding: 'utf8',
      env: { ...process.env, URING_BACKEND: 'node', URING_FS_CHILD: '1', FORCE_COLOR: '0' },
      timeout: 120_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.is(r.status, 0, `fallback run failed:\n${out}`);
    assert.match(r.stdout, /Passed:\s+\d+/);
    assert.not.match(r.stdout, /FAIL/);
  });
}
