/**
 * File-to-file copy of a byte range for `copyFile`.
 *
 * Large ranges move inside the kernel: splice through a pooled pipe
 * (lib/copy.ts), no byte enters user space. Small ones go through one reused
 * buffer with a read and a write on the ring, because a splice copy costs
 * several event-loop round trips per pipe-ful and loses badly on small files
 * (bench/RESULTS.md, zero-copy matrix: 0.03x of read+write at 4 KiB, 0.9x+
 * at 64 MiB).
 */
import type { Ring } from '../ring';
import { abortError, uringError } from '../errors';
import { copyRange as spliceCopyRange } from '../copy';
import type { PipePool } from '../pipes';

/** Ranges of at least this many bytes are copied in the kernel with splice. */
export const SPLICE_COPY_MIN = 128 * 1024;

const EIO = 5;

const CHUNK = 1 << 20;
const idle: Buffer[] = [];
const MAX_IDLE = 4;

/**
 * Copies bytes [0, length) of `srcFd` to the same offsets of `dstFd`
 * (with splice from {@link SPLICE_COPY_MIN} bytes up),
 * stopping early at the source's end of file. Short reads and writes are
 * continued. Resolves with the bytes copied. `pool` serves the splice copy;
 * `signal` stops either copy between two steps (AbortError).
 */
export async function copyRange(ring: Ring, srcFd: number, dstFd: number, length: number,
  options: { pool?: PipePool; signal?: AbortSignal } = {}): Promise<number> {
  if (length <= 0) return 0;
  const { pool, signal } = options;
  if (length >= SPLICE_COPY_MIN) return spliceCopyRange(ring, srcFd, dstFd, length, { pool, signal });
  const buf = idle.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
  let done = 0;
  try {
    while (done < length) {
      if (signal?.aborted) throw abortError(signal);
      const want = Math.min(CHUNK, length - done);
      const got = await ring.read(srcFd, buf, 0, want, done);
      if (got === 0) break;
      let written = 0;
      while (written < got) {
        const n = await ring.write(dstFd, buf, written, got - written, done + written);
        if (n === 0) throw uringError(EIO, 'write');
        written += n;
      }
      done += got;
    }
  } finally {
    if (idle.length < MAX_IDLE) idle.push(buf);
  }
  return done;
}
