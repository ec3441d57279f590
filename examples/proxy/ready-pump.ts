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
 * That wait is a one-shot poll until one completes without POLLOUT: io_uring
 * adds POLLRDHUP, POLLERR and POLLHUP to every poll's mask, so once the
 * destination's peer has half-closed (sent its FIN while still reading, or
 * not reading at all) a one-shot POLLOUT would complete at once, forever.
 * From then on the pump waits with a multishot POLLOUT poll kept for its
 * life: it completes when armed if anything is set, then only on wake-ups
 * (a write that says "would block" asks TCP for the send-space wake-up), and
 * a completion while the pump is not waiting for the destination is ignored.
 * While it waits, a multishot POLLERR poll on the source notices a reset of
 * the source (it reads nothing from it then, so nothing else would): the
 * pump then fails with the socket's error (SO_ERROR), as its next read would
 * have, without waiting for the destination to take the bytes still queued.
 * POLLHUP alone (both halves closed cleanly) is not a failure. The same
 * rules as the addon's relay (native/uring/relay.h, "Waiting for dst").
 * Fairness: a source that keeps the pipe full yields to the event loop
 * every few rounds, so one fast connection cannot starve the others.
 * Every read goes on until splice(2) reports "would block", so a readiness
 * completion is never needed to find data that is already there.
 *
 * TCP urgent data: splice(2) reads nothing past the urgent mark (without
 * SO_OOBINLINE the urgent byte is out of band): there it says "would block",
 * or 0 once the peer's FIN is queued, which is not the end. So on a TCP
 * source, a read that finds nothing (or 0) asks whether the socket is at
 * the mark (native `recvAtMark`, one ioctl(SIOCATMARK) per such read); at
 * the mark one recv(2) of one byte passes it (the urgent byte is dropped,
 * the byte after it returned), that byte is written into the pipe and
 * forwarded in order like spliced bytes, and splicing goes on (the helpers
 * are in urgent-mark.ts, shared with the io-wq pump). The only
 * payload this pump copies through user space (not counted in
 * splicedBytes). When nothing follows the mark yet, the pump goes idle
 * like after any "would block": the multishot poll calls again only when
 * more arrives, so an urgent byte at the end of what was sent never makes
 * it spin (the same rule as the addon's relay, native/uring/relay.cc).
 */
import type { Ring, StreamOp } from '../../lib/ring';
import '../../lib/ops-poll';
import { PollEvent } from '../../lib/ops-poll';
import { Op, CqeFlag } from '../../lib/opcodes';
import { trySplice, type Pipe, type PipePool } from '../../lib/pipes';
import { uringError } from '../../lib/errors';
import { failedSocket, type PumpResult } from './splice-pump';
import { native } from '../../lib/native';
import { isTcp, takeByteAtMark } from './urgent-mark';
import { watchReset } from './reset-watch';
import type { RelayEnd } from '../../lib/ops-relay';

/** Full pipe-fuls moved back to back before the pump lets other work run. */
const ROUNDS_BEFORE_YIELD = 8;
const EPIPE = 32;
const IORING_POLL_ADD_MULTI = 1;
const K = native.socketConstants;

/**
 * Moves bytes from `src` to `dst` until `src` reaches end of stream or a
 * splice (or the recv past an urgent mark) fails; see splice-pump.ts `pump` for the contract (same result,
 * but splicedBytes leaves out the bytes copied to pass TCP urgent marks).
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
    let writeWait = false; // dst is full: waiting for POLLOUT, reading nothing from src
    let writePoll: StreamOp | undefined; // POLLOUT on dst, while armed: one-shot, or multishot once outEdge
    let outEdge = false; // a POLLOUT completion came without POLLOUT: wait with writePoll from now on
    let watch: StreamOp | undefined; // multishot POLLERR on src, from the first wait for dst on
    let yielded = false;
    const tcp = isTcp(src);
    const urgentByte = tcp ? Buffer.alloc(1) : undefined; // the byte after an urgent mark, on its way to the pipe
    let copied = 0; // bytes delivered that came through urgentByte rather than splice(2)
    let copyInPipe = false; // the pipe holds such a byte (alone: it is written only into an empty pipe)

    const settleIfIdle = (): void => {
      if (result && !readPoll && !writePoll && !watch) resolve(result);
    };
    const finish = (reason: 'eof' | 'error', error?: NodeJS.ErrnoException, failedEnd?: RelayEnd): void => {
      if (result) return;
      result = { bytes, splicedBytes: bytes - copied, reason, error };
      const end = failedSocket(error, failedEnd);
      if (end) result.failedEnd = end;
      if (reason === 'eof' && buffered === 0) pool.release(pipe);
      else pool.discard(pipe);
      writeWait = false;
      readPoll?.cancel();
      writePoll?.cancel();
      watch?.cancel();
      settleIfIdle();
    };
    /** A POLLOUT completion (`mask`, or -errno): go on if the pump was waiting for dst. */
    const onWritable = (mask: number): void => {
      if (result) return settleIfIdle();
      if (mask < 0) return finish('error', uringError(-mask, 'poll'), 'destination');
      if (!writeWait) return; // the multishot woke while dst was not awaited
      writeWait = false;
      if ((mask & PollEvent.OUT) === 0) outEdge = true; // a condition set for good (RDHUP...): see above
      step();
    };
    /** dst is full: wait for POLLOUT (the multishot, once armed, serves every wait) and watch src meanwhile. Throws if the ring is gone. */
    const waitWritable = (): void => {
      writeWait = true;
      if (!watch) watch = watchSource();
      if (writePoll) return;
      writePoll = ring.submitStream({ opcode: Op.POLL_ADD, fd: dst, len: outEdge ? IORING_POLL_ADD_MULTI : 0,
        opFlags: PollEvent.OUT, syscall: 'poll' }, (res, flags) => {
        if ((flags & CqeFlag.MORE) === 0) writePoll = undefined;
        onWritable(res);
      });
    };
    /** The reset watch on src (reset-watch.ts): while the pump waits for dst, a socket error there ends it. */
    const watchSource = (): StreamOp => watchReset(ring, src, (err) => {
      if (!result && writeWait) finish('error', uringError(err, 'poll'), 'source');
    }, (res) => {
      watch = undefined;
      if (result) settleIfIdle();
      // The kernel ended the multishot while dst is awaited: watch again (a watch that failed is not retried).
      else if (writeWait && res >= 0) watch = watchSource();
    });
    const step = (): void => {
      if (result || writeWait) return;
      let at: RelayEnd | undefined; // the socket of the call in progress (for a failure)
      try {
        for (;;) {
          at = 'destination';
          while (buffered > 0) {
            const m = trySplice(pipe.readFd, dst, buffered);
            if (m < 0) {
              at = undefined;
              waitWritable(); // may throw (the ring is gone): then finish below
              return;
            }
            if (m === 0) throw uringError(EPIPE, 'splice');
            buffered -= m;
            bytes += m;
            if (copyInPipe) {
              copyInPipe = false;
              copied++;
            }
          }
          at = 'source';
          let n = trySplice(src, pipe.writeFd, pipe.size);
          if (n <= 0 && urgentByte) n = passUrgentMark(urgentByte, n);
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
        finish('error', e as NodeJS.ErrnoException, at);
      }
    };
    /**
     * After a TCP read that found nothing (`n` -1) or 0 (with the pipe empty): at the urgent mark, the byte
     * after it goes into the pipe (1 returned). Otherwise `n` stands (nothing after the mark yet: idle until
     * the poll calls again), but for the end of stream found right after the mark (0). Throws on a failed recv.
     */
    const passUrgentMark = (b: Buffer, n: number): number => {
      const got = takeByteAtMark(src, pipe.writeFd, b); // the pipe is empty here
      if (got === 0) return 0;
      if (got < 0) return n;
      copyInPipe = true;
      return 1;
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
          finish('error', uringError(-res, 'poll'), 'source');
        } else {
          step();
          if (!more && !result) arm(); // the kernel ended the multishot: re-arm
        }
      });
    };
    arm();
  });
}
