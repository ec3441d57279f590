/**
 * sendFile's 'ready' mode (the default): sendfile(2) on the loop thread
 * where it cannot block, the ring where it could.
 * @internal
 */
import type { Ring } from '../ring';
import { Op } from '../opcodes';
import { abortError, uringError } from '../errors';
import { trySplice, type Pipe, type PipePool } from '../pipes';
import { isCached } from '../pagecache';
import { native } from '../native';
import '../ops-poll';
import { PollEvent } from '../ops-poll';
import { truncatedError } from './sendfile-common';
import { SpliceFlag } from '../ops-splice';
import type { StallWatch } from './sendfile-stall';

/** The most one sendfile(2) or one pipe-ful moves before the next page-cache check. */
const CHUNK = 1 << 20;
const EAGAIN = 11;

/**
 * The 'ready' transfer: where the range is in the page cache, one
 * sendfile(2) on this thread (it cannot block: the socket is O_NONBLOCK and
 * the pages are there); where it is not, IORING_OP_SPLICE into a pipe in
 * io-wq (the disk read never blocks the loop) and non-blocking splices from
 * the pipe to the socket. A full socket is waited for with a ring poll.
 * @internal
 */
export async function transferReady(ring: Ring, sockFd: number, fileFd: number, start: number, endPos: number,
  pool: PipePool, watch: StallWatch): Promise<number> {
  // sendfile/splice into a socket block unless the socket itself is O_NONBLOCK (io_uring's
  // own socket operations do not care); the previous mode is restored afterwards.
  const wasNonBlocking = native.setNonBlocking(sockFd, true);
  const signal = watch.signal;
  let pipe: Pipe | undefined; // taken for the first uncached range only
  let inPipe = 0;
  let sent = 0;
  let pos = start;
  try {
    while (pos < endPos) {
      if (signal?.aborted) throw abortError(signal);
      const want = Math.min(endPos - pos, CHUNK);
      if (isCached(fileFd, pos, want)) {
        // inPipe is 0 here: the pipe is always emptied before the next range.
        const n = native.sendfileNow(sockFd, fileFd, pos, want);
        if (n === -EAGAIN) {
          await ring.poll(sockFd, PollEvent.OUT, { signal });
          continue;
        }
        if (n < 0) throw uringError(-n, 'sendfile');
        if (n === 0) throw truncatedError(pos, endPos, sent);
        pos += n;
        sent += n;
        watch.progress(sent);
        continue;
      }
      pipe ??= pool.acquire();
      const a = await ring.submit({ opcode: Op.SPLICE, fd: pipe.writeFd, off: -1, addr: pos,
        len: Math.min(want, pipe.size), fdIn: fileFd, opFlags: SpliceFlag.MOVE, syscall: 'sendfile', signal });
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
    if (pipe) pool.release(pipe); // reused only if empty, else closed
    restoreBlocking(sockFd, wasNonBlocking);
    const err = e as NodeJS.ErrnoException;
    // Report trySplice's failures like the ring's: as sendfile errors.
    throw err.syscall === 'splice' && typeof err.errno === 'number' ? uringError(-err.errno, 'sendfile') : e;
  }
  if (pipe) pool.release(pipe);
  restoreBlocking(sockFd, wasNonBlocking);
  return sent;
}

function restoreBlocking(fd: number, wasNonBlocking: boolean): void {
  if (wasNonBlocking) return;
  try { native.setNonBlocking(fd, false); } catch { /* the socket was closed meanwhile */ }
}
