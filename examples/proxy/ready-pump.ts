/**
 * One direction of a proxied connection, readiness-driven: the ring reports
 * when the source is readable (IORING_OP_POLL_ADD) and the pump then moves
 * the bytes with plain non-blocking splice(2) calls, socket -> pooled pipe
 * -> socket. No payload enters user space and no io-wq thread is involved
 * (IORING_OP_SPLICE always hands each call to one: see splice-pump.ts).
 * This is what an epoll proxy such as HAProxy does, with the ring as the
 * readiness source. Both sockets must be O_NONBLOCK.
 *
 * Backpressure: at most one pipe-ful is buffered; while the destination
 * does not take it the pump waits for POLLOUT and reads nothing more.
 * Fairness: a source that keeps the pipe full yields to the event loop
 * every few rounds, so one fast connection cannot starve the others.
 */
import type { Ring } from '../../lib/ring';
import '../../lib/ops-poll';
import { PollEvent } from '../../lib/ops-poll';
import { trySplice, type Pipe, type PipePool } from '../../lib/pipes';
import { uringError } from '../../lib/errors';
import type { PumpResult } from './splice-pump';

/** Full pipe-fuls moved back to back before the pump lets other work run. */
const ROUNDS_BEFORE_YIELD = 8;
const EPIPE = 32;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Moves bytes from `src` to `dst` until `src` reaches end of stream or a
 * splice fails; see splice-pump.ts `pump` for the contract (same result).
 */
export async function readyPump(ring: Ring, src: number, dst: number, pool: PipePool,
  onProgress: (bytes: number) => void): Promise<PumpResult> {
  const pipe: Pipe = pool.acquire();
  let buffered = 0;
  let bytes = 0;
  let fullRounds = 0;
  try {
    for (;;) {
      const n = trySplice(src, pipe.writeFd, pipe.size);
      if (n < 0) {
        await ring.poll(src, PollEvent.IN | PollEvent.RDHUP);
        continue;
      }
      if (n === 0) break;
      buffered = n;
      onProgress(n);
      while (buffered > 0) {
        const m = trySplice(pipe.readFd, dst, buffered);
        if (m < 0) {
          await ring.poll(dst, PollEvent.OUT);
          continue;
        }
        if (m === 0) throw uringError(EPIPE, 'splice');
        buffered -= m;
        bytes += m;
      }
      if (n < pipe.size) {
        // The source had less than a pipe-ful: it is most likely drained now,
        // so wait for readiness instead of a splice that would find nothing.
        fullRounds = 0;
        await ring.poll(src, PollEvent.IN | PollEvent.RDHUP);
      } else if (++fullRounds >= ROUNDS_BEFORE_YIELD) {
        fullRounds = 0;
        await yieldToLoop();
      }
    }
  } catch (e) {
    pool.discard(pipe);
    return { bytes, splicedBytes: bytes, reason: 'error', error: e as NodeJS.ErrnoException };
  }
  pool.release(pipe);
  return { bytes, splicedBytes: bytes, reason: 'eof' };
}
