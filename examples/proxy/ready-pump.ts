/**
 * One direction of a proxied connection, readiness-driven: the ring reports
 * when the source is readable (one multishot IORING_OP_POLL_ADD for the
 * direction's life) and the pump then moves the bytes with plain
 * non-blocking splice(2) calls, socket -> pooled pipe -> socket. No payload
 * enters user space and no io-wq thread is involved (IORING_OP_SPLICE
 * always hands each call to one: see splice-pump.ts). This is what an epoll
 * proxy such as HAProxy does, with the ring as the readiness source. Both
 * sockets must be O_NONBLOCK.
 *
 * Backpressure: at most one pipe-ful is buffered; while the destination
 * does not take it the pump waits for POLLOUT and reads nothing more.
 * Fairness: a source that keeps the pipe full yields to the event loop
 * every few rounds, so one fast connection cannot starve the others.
 * Every read goes on until splice(2) reports "would block", so a readiness
 * completion is never needed to find data that is already there.
 */
import type { Ring, StreamOp } from '../../lib/ring';
import '../../lib/ops-poll';
import { PollEvent } from '../../lib/ops-poll';
import { Op, CqeFlag } from '../../lib/opcodes';
import { trySplice, type Pipe, type PipePool } from '../../lib/pipes';
import { uringError } from '../../lib/errors';
import type { PumpResult } from './splice-pump';

/** Full pipe-fuls moved back to back before the pump lets other work run. */
const ROUNDS_BEFORE_YIELD = 8;
const EPIPE = 32;
const IORING_POLL_ADD_MULTI = 1;

/**
 * Moves bytes from `src` to `dst` until `src` reaches end of stream or a
 * splice fails; see splice-pump.ts `pump` for the contract (same result).
 * Resolves only once no ring operation of this pump is left in the kernel.
 */
export function readyPump(ring: Ring, src: number, dst: number, pool: PipePool,
  onProgress: (bytes: number) => void): Promise<PumpResult> {
  let pipe: Pipe;
  try {
    pipe = pool.acquire();
  } catch (e) {
    // Out of fds (EMFILE) for a pipe: this direction fails; the connection closes both sockets.
    return Promise.resolve({ bytes: 0, splicedBytes: 0, reason: 'error', error: e as NodeJS.ErrnoException });
  }
  return new Promise<PumpResult>((resolve) => {
    let buffered = 0;
    let bytes = 0;
    let fullRounds = 0;
    let result: PumpResult | undefined;
    let readPoll: StreamOp | undefined; // multishot POLLIN on src, while armed
    let writeWait = false; // a one-shot POLLOUT on dst is pending
    let yielded = false;

    const settleIfIdle = (): void => {
      if (result && !readPoll && !writeWait) resolve(result);
    };
    const finish = (reason: 'eof' | 'error', error?: NodeJS.ErrnoException): void => {
      if (result) return;
      result = { bytes, splicedBytes: bytes, reason, error };
      if (reason === 'eof' && buffered === 0) pool.release(pipe);
      else pool.discard(pipe);
      readPoll?.cancel();
      settleIfIdle();
    };
    const step = (): void => {
      if (result || writeWait) return;
      try {
        for (;;) {
          while (buffered > 0) {
            const m = trySplice(pipe.readFd, dst, buffered);
            if (m < 0) {
              const writable = ring.poll(dst, PollEvent.OUT); // may throw: then no wait is pending
              writeWait = true;
              writable.then(() => {
                writeWait = false;
                if (result) settleIfIdle();
                else step();
              }, (e: NodeJS.ErrnoException) => {
                writeWait = false;
                finish('error', e);
                settleIfIdle();
              });
              return;
            }
            if (m === 0) throw uringError(EPIPE, 'splice');
            buffered -= m;
            bytes += m;
          }
          const n = trySplice(src, pipe.writeFd, pipe.size);
          if (n < 0) return; // drained: the multishot poll calls again when more arrives
          if (n === 0) return finish('eof');
          buffered = n;
          onProgress(n);
          if (n < pipe.size) {
            fullRounds = 0;
          } else if (++fullRounds >= ROUNDS_BEFORE_YIELD) {
            fullRounds = 0;
            if (!yielded) {
              yielded = true;
              setImmediate(() => { yielded = false; step(); });
            }
            return;
          }
        }
      } catch (e) {
        finish('error', e as NodeJS.ErrnoException);
      }
    };
    const arm = (): void => {
      try {
        readPoll = armRead();
      } catch (e) {
        finish('error', e as NodeJS.ErrnoException); // the ring is gone
      }
    };
    const armRead = (): StreamOp => {
      return ring.submitStream({ opcode: Op.POLL_ADD, fd: src, len: IORING_POLL_ADD_MULTI,
        opFlags: PollEvent.IN | PollEvent.RDHUP, syscall: 'poll' }, (res, flags) => {
        const more = (flags & CqeFlag.MORE) !== 0;
        if (!more) readPoll = undefined;
        if (result) {
          settleIfIdle();
        } else if (res < 0) {
          finish('error', uringError(-res, 'poll'));
        } else {
          step();
          if (!more && !result) arm(); // the kernel ended the multishot: re-arm
        }
      });
    };
    arm();
  });
}
