/**
 * sendFile's 'ready' mode (the default): splice(2) on the loop thread where
 * it cannot block, the ring where it could.
 * @internal
 */
import type { Ring } from '../ring';
import { Op } from '../opcodes';
import { abortError, uringError } from '../errors';
import { trySplice, type PipePool } from '../pipes';
import { isCached } from '../pagecache';
import { native } from '../native';
import '../ops-poll';
import { PollEvent } from '../ops-poll';
import { truncatedError } from './sendfile-common';
import { SpliceFlag } from '../ops-splice';
import type { StallWatch } from './sendfile-stall';

/**
 * The 'ready' transfer: splice(2) on this thread where it cannot block,
 * the ring where it could (an uncached file range; a full socket).
 * @internal
 */
export async function transferReady(ring: Ring, sockFd: number, fileFd: number, start: number, endPos: number,
  pool: PipePool, watch: StallWatch, leaveNonBlocking = false): Promise<number> {
  // splice(2) into a socket blocks unless the socket itself is O_NONBLOCK, so the flag is
  // set (checked on every transfer: anything may have cleared it since; one F_GETFL when
  // it is already set). With `leaveNonBlocking` (a socket the facade made) it stays set;
  // otherwise the previous mode is restored afterwards.
  const pipe = pool.acquire(); // first: if it throws (EMFILE), the socket's mode is untouched
  let keepNonBlocking: boolean;
  try {
    keepNonBlocking = native.setNonBlocking(sockFd, true) || leaveNonBlocking;
  } catch (e) {
    pool.release(pipe);
    throw e;
  }
  const signal = watch.signal;
  let inPipe = 0;
  let sent = 0;
  let pos = start;
  try {
    while (pos < endPos) {
      if (signal?.aborted) throw abortError(signal);
      const want = Math.min(endPos - pos, pipe.size);
      let a = isCached(fileFd, pos, want) ? trySplice(fileFd, pipe.writeFd, want, false, pos) : -1;
      if (a < 0) {
        a = await ring.submit({ opcode: Op.SPLICE, fd: pipe.writeFd, off: -1, addr: pos, len: want, fdIn: fileFd,
          opFlags: SpliceFlag.MOVE, syscall: 'sendfile', signal });
      }
      if (a === 0) throw truncatedError(pos, endPos, sent);
      pos += a;
      inPipe += a;
      const more = pos < endPos;
      while (inPipe > 0) {
        const n = trySplice(pipe.readFd, sockFd, inPipe, more);
        if (n < 0) {
          await ring.poll(sockFd, PollEvent.OUT, { signal });
          continue;
        }
        if (n === 0) throw uringError(32 /* EPIPE */, 'sendfile');
        inPipe -= n;
        sent += n;
        watch.progress(sent);
      }
    }
  } catch (e) {
    pool.release(pipe); // reused only if empty, else closed
    restoreBlocking(sockFd, keepNonBlocking);
    const err = e as NodeJS.ErrnoException;
    // Report trySplice's failures like the ring's: as sendfile errors.
    throw err.syscall === 'splice' && typeof err.errno === 'number' ? uringError(-err.errno, 'sendfile') : e;
  }
  pool.release(pipe); // reused only if empty, else closed
  restoreBlocking(sockFd, keepNonBlocking);
  return sent;
}

function restoreBlocking(fd: number, keepNonBlocking: boolean): void {
  if (keepNonBlocking) return;
  try { native.setNonBlocking(fd, false); } catch { /* the socket was closed meanwhile */ }
}
