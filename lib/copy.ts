/**
 * In-kernel file copies: data moves file -> pipe -> file with splice(2)
 * through pooled pipes and never enters user space (what copy_file_range(2)
 * does inside the kernel, here as io_uring operations).
 */
import { constants as fsConstants } from 'node:fs';
import type { Ring } from './ring';
import { transfer } from './ops-splice';
import './ops-splice';
import { pipePool, type PipePool } from './pipes';
import { abortError, uringError } from './errors';
import { validateFd, validateInt, validateSignal, toPath } from './validate';
import { copyFileRing } from './fs/copy-file';

/** Options for {@link copyRange}. */
export interface CopyRangeOptions {
  /** Where reading starts in the source (default 0). */
  srcOffset?: number;
  /** Where writing starts in the destination (default 0). */
  dstOffset?: number;
  /** Pipes to move the data through (default: the thread's shared pool). */
  pool?: PipePool;
  /**
   * Parallel lanes: the range is cut into this many contiguous parts, each
   * moved through its own pipe (default 1). More lanes help when the source
   * is slow to read (cold cache, network file systems); on a warm page cache
   * they contend for the destination's inode lock and measured slower.
   */
  lanes?: number;
  /** Stops the copy; the Promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Copies `length` bytes from `srcFd` (at `srcOffset`) to `dstFd` (at
 * `dstOffset`) inside the kernel. Resolves with the bytes copied: fewer than
 * `length` only if the source ends first. Neither file position moves.
 * Offsets beyond 4 GiB are fine (up to 2^53 - 1).
 */
export function copyRange(ring: Ring, srcFd: number, dstFd: number, length: number,
  options: CopyRangeOptions = {}): Promise<number> {
  validateFd(srcFd, 'srcFd');
  validateFd(dstFd, 'dstFd');
  validateInt(length, 'length', 0, Number.MAX_SAFE_INTEGER);
  const srcOffset = options.srcOffset ?? 0;
  const dstOffset = options.dstOffset ?? 0;
  validateInt(srcOffset, 'options.srcOffset', 0, Number.MAX_SAFE_INTEGER - length);
  validateInt(dstOffset, 'options.dstOffset', 0, Number.MAX_SAFE_INTEGER - length);
  const signal = validateSignal(options.signal);
  const pool = options.pool ?? pipePool();
  const lanes = options.lanes ?? 1;
  validateInt(lanes, 'options.lanes', 1, 64);
  if (lanes === 1 || length < lanes) {
    return transfer(ring, srcFd, srcOffset, dstFd, dstOffset, length, pool, { signal });
  }
  return inLanes(ring, srcFd, srcOffset, dstFd, dstOffset, length, lanes, pool, signal);
}

async function inLanes(ring: Ring, srcFd: number, srcOffset: number, dstFd: number, dstOffset: number,
  length: number, lanes: number, pool: PipePool, signal: AbortSignal | undefined): Promise<number> {
  // Contiguous parts, each a multiple of 1 MiB except the last.
  const part = Math.ceil(length / lanes / (1 << 20)) * (1 << 20);
  const inner = new AbortController();
  if (signal?.aborted) throw abortError(signal);
  const onAbort = (): void => inner.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const jobs: Promise<number>[] = [];
    let firstError: { error: unknown } | undefined;
    for (let start = 0; start < length; start += part) {
      const n = Math.min(part, length - start);
      jobs.push(transfer(ring, srcFd, srcOffset + start, dstFd, dstOffset + start, n, pool, { signal: inner.signal })
        .catch((e: unknown) => {
          // The first failure stops the other lanes; it is the error reported.
          if (!firstError && !inner.signal.aborted) firstError = { error: e };
          inner.abort(e);
          throw e;
        }));
    }
    const results = await Promise.allSettled(jobs);
    if (signal?.aborted) throw abortError(signal);
    if (firstError) throw firstError.error;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // A short part means the source ended inside it: what follows it is not file data.
    let total = 0;
    for (let i = 0; i < results.length; i++) {
      const got = (results[i] as PromiseFulfilledResult<number>).value;
      total += got;
      if (got < Math.min(part, length - i * part)) break;
    }
    return total;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Options for {@link copyFile}. */
export interface CopyFileOptions {
  /** Pipes to move the data through (default: the thread's shared pool). */
  pool?: PipePool;
  /**
   * Stops the copy; the Promise rejects with an AbortError. A destination
   * this call created is removed; one that existed is left as far as the
   * copy got.
   */
  signal?: AbortSignal;
}

const { COPYFILE_EXCL, COPYFILE_FICLONE, COPYFILE_FICLONE_FORCE } = fsConstants;

/**
 * Copies the file `src` to `dst` inside the kernel, like
 * `fs.promises.copyFile` (and with its errors: `copyfile` naming both
 * paths): `dst` is created or truncated and gets `src`'s permission bits.
 * `mode` (default 0; null and undefined mean 0) takes
 * `fs.constants.COPYFILE_EXCL` (fail with EEXIST if `dst` exists) and
 * `COPYFILE_FICLONE` (accepted; this copy never clones).
 * `COPYFILE_FICLONE_FORCE` rejects with ENOTSUP (EOPNOTSUPP): cloning is not
 * done here. Copying a file onto itself leaves it unchanged. A failure
 * removes the destination only if this call created it. Files of 128 KiB
 * and more are spliced through `options.pool`; smaller ones are read and
 * written through one buffer (faster at that size: bench/RESULTS.md).
 */
export function copyFile(ring: Ring, src: string | Buffer | URL, dst: string | Buffer | URL,
  mode: number | null = 0, options: CopyFileOptions = {}): Promise<void> {
  const [srcPath] = toPath(src, 'src');
  const [dstPath] = toPath(dst, 'dest');
  const m = mode ?? 0;
  validateInt(m, 'mode', 0, COPYFILE_EXCL | COPYFILE_FICLONE | COPYFILE_FICLONE_FORCE);
  const signal = validateSignal(options.signal);
  if (m & COPYFILE_FICLONE_FORCE) {
    const err = uringError(95, 'copyfile', srcPath, dstPath); // EOPNOTSUPP (Node names it ENOTSUP)
    err.message += ' (COPYFILE_FICLONE_FORCE: this copy moves data with splice and never clones)';
    return Promise.reject(err);
  }
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return copyFileRing(ring, srcPath, dstPath, m, { pool: options.pool, signal });
}
