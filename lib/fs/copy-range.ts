/**
 * File-to-file copy of a byte range through user space: pread/pwrite on the
 * ring through one reused 1 MiB buffer. (The splice-based in-kernel copy
 * replaces this where it is available; the signature stays the same.)
 */
import type { Ring } from '../ring';
import { uringError } from '../errors';

const EIO = 5;

const CHUNK = 1 << 20;
const idle: Buffer[] = [];
const MAX_IDLE = 4;

/**
 * Copies bytes [0, length) of `srcFd` to the same offsets of `dstFd`,
 * stopping early at the source's end of file. Short reads and writes are
 * continued. Resolves with the bytes copied.
 */
export async function copyRange(ring: Ring, srcFd: number, dstFd: number, length: number): Promise<number> {
  if (length <= 0) return 0;
  const buf = idle.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
  let done = 0;
  try {
    while (done < length) {
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
