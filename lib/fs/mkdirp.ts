/**
 * `mkdir -p` on the ring, with Node's results: resolves with the first
 * directory it created (undefined when the directory already existed), and
 * reports failures against the path the caller gave.
 * @internal
 */
import * as path from 'node:path';
import type { Ring } from '../ring';
import { uringError, type UringError } from '../errors';

const ENOENT = 2;
const EEXIST = 17;
const ENOTDIR = 20;

function asCallerPath(e: unknown, p: string): unknown {
  const err = e as UringError;
  return typeof err?.errno === 'number' && err.syscall === 'mkdir' ? uringError(-err.errno, 'mkdir', p) : e;
}

/** Creates `p` and every missing parent with `mode`. */
export async function mkdirRecursive(ring: Ring, p: string, mode: number): Promise<string | undefined> {
  const missing: string[] = [];
  let cur = p;
  let first: string | undefined;
  // Walk up until a mkdir succeeds or meets an existing directory.
  for (;;) {
    try {
      await ring.mkdir(cur, mode);
      first = cur;
      break;
    } catch (e) {
      const errno = -((e as UringError).errno ?? 0);
      if (errno === EEXIST) {
        const st = await ring.stat(cur).catch(() => undefined);
        if (st?.isDirectory()) break;
        throw uringError(cur === p ? EEXIST : ENOTDIR, 'mkdir', p);
      }
      const parent = path.dirname(cur);
      if (errno !== ENOENT || parent === cur) throw asCallerPath(e, p);
      missing.push(cur);
      cur = parent;
    }
  }
  // Create the missing ones top-down (one may appear meanwhile: that is fine).
  for (let i = missing.length - 1; i >= 0; i--) {
    const dir = missing[i]!;
    try {
      await ring.mkdir(dir, mode);
      first ??= dir;
    } catch (e) {
      if (-((e as UringError).errno ?? 0) !== EEXIST) throw asCallerPath(e, p);
      const st = await ring.stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) throw uringError(i === 0 ? EEXIST : ENOTDIR, 'mkdir', p);
    }
  }
  return first;
}
