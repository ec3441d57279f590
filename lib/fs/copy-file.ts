/**
 * copyFile on the ring, with Node's results and errors (every failure is
 * reported as `copyfile 'src' -> 'dest'`): open the source, fstat it, open
 * the destination (O_EXCL for COPYFILE_EXCL), skip the copy when both are
 * the same file, truncate an existing destination, give it the source's
 * permission bits, then copy the bytes with {@link copyRange}.
 *
 * Unlike libuv, a failure (an abort too) never removes a destination the
 * caller already had: only a file this call created is unlinked (and the
 * file it created at a dangling symlink's target, the link kept). Every fd
 * opened is closed. Both the fs facade and lib/copy.ts `copyFile` (which
 * adds a pipe pool and a signal) copy with this.
 * @internal
 */
import { constants, fchmod as nodeFchmod } from 'node:fs';
import { lstat, readlink, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Ring } from '../ring';
import { abortError, uringError, type UringError } from '../errors';
import { copyRange } from './copy-range';
import { ftruncateFd } from './truncate';
import { adoptFd } from '../owned-fds';
import type { PipePool } from '../pipes';

const fchmod = promisify(nodeFchmod);
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, COPYFILE_EXCL } = constants;
const EEXIST = 17;
const EISDIR = 21;

/** Copies `src` to `dest` (paths already validated, as strings); `pool` and `signal` as for copyRange. */
export async function copyFileRing(ring: Ring, src: string, dest: string, mode: number,
  options: { pool?: PipePool; signal?: AbortSignal } = {}): Promise<void> {
  const fds: number[] = [];
  let created = false;
  /** A dangling symlink's target this call created through it: removed on failure too. */
  let createdTarget: { path: string; ino: number } | undefined;
  let ok = false;
  try {
    const srcFd = adoptFd(await ring.open(src, O_RDONLY));
    fds.push(srcFd);
    const st = await ring.fstat(srcFd);
    if (st.isDirectory()) throw uringError(EISDIR, 'copyfile');
    const perm = st.mode & 0o7777;
    const { signal } = options;
    // Before the destination is touched: an abort must leave an existing one as it was.
    if (signal?.aborted) throw abortError(signal);
    let dstFd: number;
    try {
      dstFd = adoptFd(await ring.open(dest, O_WRONLY | O_CREAT | O_EXCL, perm));
      created = true;
    } catch (e) {
      if ((mode & COPYFILE_EXCL) !== 0 || (e as UringError).errno !== -EEXIST) throw e;
      // O_CREAT again, without O_EXCL, as libuv opens it: a dest that is a
      // dangling symlink failed O_EXCL, and this creates the link's target.
      const target = await danglingTarget(dest);
      dstFd = adoptFd(await ring.open(dest, O_WRONLY | O_CREAT, perm));
      if (target !== undefined) createdTarget = { path: target, ino: -1 };
    }
    fds.push(dstFd);
    const dst = await ring.fstat(dstFd);
    if (createdTarget) createdTarget.ino = dst.ino;
    if (dst.dev === st.dev && dst.ino === st.ino) {
      ok = true;
      return;
    }
    if (signal?.aborted) throw abortError(signal); // the last moment before an existing file is truncated
    if (!created && dst.size !== 0) await ftruncateFd(ring, dstFd, 0);
    if ((dst.mode & 0o7777) !== perm) await fchmod(dstFd, perm);
    await copyRange(ring, srcFd, dstFd, st.size, options);
    ok = true;
  } catch (e) {
    const err = e as UringError;
    throw typeof err?.errno === 'number' && typeof err.code === 'string'
      ? uringError(-err.errno, 'copyfile', src, dest) : e;
  } finally {
    const closing = fds.map((fd) => ring.close(fd).catch(() => undefined));
    await Promise.all(closing);
    if (!ok && created) await ring.unlink(dest).catch(() => undefined);
    if (!ok && createdTarget) {
      // Only the file this call made: same inode at the link's target.
      const t = createdTarget;
      const same = await ring.lstat(t.path).then((s) => s.ino === t.ino, () => false);
      if (same) await ring.unlink(t.path).catch(() => undefined);
    }
  }
}

/** The path a dangling symlink `p` points to (which an O_CREAT open creates), else undefined. */
async function danglingTarget(p: string): Promise<string | undefined> {
  try {
    if (!(await lstat(p)).isSymbolicLink()) return undefined;
    if (await stat(p).then(() => true, () => false)) return undefined; // the target exists
    return path.resolve(path.dirname(p), await readlink(p));
  } catch {
    return undefined;
  }
}
