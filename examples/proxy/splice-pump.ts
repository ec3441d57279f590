/**
 * One direction of a proxied connection: socket -> pooled pipe -> socket with
 * IORING_OP_SPLICE, so the payload never enters user space.
 *
 * Each round splices what the source has (up to the pipe's capacity) into the
 * pipe, then splices all of it out to the destination (several calls if the
 * destination takes it in parts). Only one pipe-ful is ever buffered, so a
 * slow destination slows the source down: that is the backpressure. The two
 * halves are not linked: on sockets a short first half is the normal case,
 * and a short splice breaks an IOSQE_IO_LINK chain anyway.
 *
 * Known cost: io_uring always hands IORING_OP_SPLICE to an io-wq worker, so
 * each pending splice parks a kernel thread; for small request/response
 * traffic that costs more CPU than the copy it saves (bench/RESULTS.md,
 * "HTTP servers"). The proxy's default is therefore ready-pump.ts (ring
 * readiness + non-blocking splice(2) on the loop thread); this pump is kept
 * as `--pump io-wq`, which spreads large transfers over io-wq threads.
 * The sockets stay blocking (connection.ts sets O_NONBLOCK for the ready
 * pump only): each splice waits in its io-wq worker.
 *
 * TCP urgent data: splice(2) reads nothing past the urgent mark (without
 * SO_OOBINLINE the urgent byte is out of band), and a blocking one returns 0
 * there whenever anything is queued behind the mark (tcp_splice_read does
 * not wait while the receive queue holds an skb), the urgent byte alone
 * included. So on a TCP source a 0 is not taken for the end at once: the
 * pump asks whether the socket is at the mark (urgent-mark.ts, native
 * `recvAtMark`: one ioctl(SIOCATMARK), only after a 0). At the mark one
 * recv(2) of one byte with MSG_DONTWAIT (never blocks the loop) passes it
 * (the urgent byte is dropped, the normal byte after it returned); that byte
 * is written into the empty pipe and forwarded in order like spliced bytes
 * (the only payload this pump copies through user space, left out of
 * splicedBytes), and splicing goes on. At the mark with nothing after it
 * yet, the next splice simply waits for data: an urgent byte as the last
 * byte sent parks one splice, it never makes the pump loop. Not at a mark,
 * the 0 is the end of stream, unless bytes are readable (native
 * pendingBytes: FIONREAD, which on TCP counts the bytes before the urgent
 * mark): a newer urgent byte came between the splice and the question, and
 * TCP keeps one mark, so the kernel stepped over the old urgent byte and the
 * socket is no longer at a mark; the pump then splices again (once: a second
 * such 0 in a row is the end). Cost on TCP sources: one getsockopt per
 * pump, and one ioctl plus one FIONREAD after the final 0 (not measured).
 */
import type { Ring } from '../../lib/ring';
import type { Pipe, PipePool } from '../../lib/pipes';
import { Op } from '../../lib/opcodes';
import { uringError } from '../../lib/errors';
import { native } from '../../lib/native';
import { isTcp, takeByteAtMark, NOT_AT_MARK, NOTHING_AFTER_MARK } from './urgent-mark';
import type { RelayEnd } from '../../lib/ops-relay';

const SPLICE_F_MOVE = 1;
const EPIPE = 32;

/** How a pump ended. */
export interface PumpResult {
  /** Bytes that reached the destination. */
  bytes: number;
  /** Of those, bytes moved by splice: all but the bytes copied to pass TCP urgent marks (one per mark passed). */
  splicedBytes: number;
  /** 'eof': the source finished sending; 'error': a splice failed. */
  reason: 'eof' | 'error';
  /** The failure, for 'error'. */
  error?: NodeJS.ErrnoException;
  /** For 'error': the socket the failed call was on (absent when neither: no pipe, the ring gone). */
  failedEnd?: RelayEnd;
}

/**
 * The socket a pump failure was on: `at`, unless the failure was no socket's
 * doing (a cancel, an abort, the ring destroyed), which names none.
 */
export function failedSocket(e: unknown, at: RelayEnd | undefined): RelayEnd | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECANCELED' || code === 'ABORT_ERR' || code === 'ERR_RING_DESTROYED' ? undefined : at;
}

/** Splices up to `len` bytes from `fdIn` to `fdOut` (one side a pipe); resolves with the count. */
export function splice(ring: Ring, fdIn: number, fdOut: number, len: number): Promise<number> {
  // splice: fd = out, off = off_out, addr = off_in (-1: none), fdIn = splice_fd_in.
  return ring.submit({ opcode: Op.SPLICE, fd: fdOut, off: -1, addr: -1, len, opFlags: SPLICE_F_MOVE, fdIn,
    syscall: 'splice' });
}

/**
 * Moves bytes from `src` to `dst` until `src` reaches end of stream or a
 * splice (or the recv past a TCP urgent mark) fails. The pump does not
 * shut anything down: the caller propagates the half-close on 'eof'
 * (connection.ts). The pipe goes back to the pool only if it is empty;
 * after an error it is closed, never reused. Resolves once no ring
 * operation of this pump is left (each splice is awaited).
 */
export async function pump(ring: Ring, src: number, dst: number, pool: PipePool,
  onProgress: (bytes: number) => void): Promise<PumpResult> {
  let pipe: Pipe;
  try {
    pipe = pool.acquire();
  } catch (e) {
    return { bytes: 0, splicedBytes: 0, reason: 'error', error: e as NodeJS.ErrnoException };
  }
  const urgentByte = isTcp(src) ? Buffer.alloc(1) : undefined; // the byte after an urgent mark, on its way to the pipe
  let buffered = 0;
  let bytes = 0;
  let copied = 0; // bytes delivered that came through urgentByte rather than splice
  let markMoved = false; // the last 0 was followed by readable bytes, not at a mark: splicing once more
  let at: RelayEnd = 'source'; // the socket of the call in progress (for a failure)
  try {
    for (;;) {
      at = 'source';
      let n = await splice(ring, src, pipe.writeFd, pipe.size);
      let viaCopy = false;
      if (n === 0 && urgentByte) {
        const got = takeByteAtMark(src, pipe.writeFd, urgentByte); // the pipe is empty here
        if (got === NOTHING_AFTER_MARK) {
          markMoved = false; // a mark was found: the race below starts over
          continue; // passed (or not yet arrived): the next splice waits for data
        }
        if (got === NOT_AT_MARK && !markMoved && native.pendingBytes(src) > 0) {
          markMoved = true;
          continue;
        }
        n = Math.max(got, 0); // NOT_AT_MARK with nothing readable: the end
        viaCopy = n > 0;
      }
      if (n === 0) break;
      markMoved = false;
      buffered = n;
      onProgress(n);
      at = 'destination';
      while (buffered > 0) {
        const m = await splice(ring, pipe.readFd, dst, buffered);
        if (m === 0) throw uringError(EPIPE, 'splice'); // nothing taken from a non-empty pipe: never loop on it
        buffered -= m;
        bytes += m;
      }
      if (viaCopy) copied += n;
    }
  } catch (e) {
    pool.discard(pipe);
    const r: PumpResult = { bytes, splicedBytes: bytes - copied, reason: 'error', error: e as NodeJS.ErrnoException };
    const end = failedSocket(e, at);
    if (end) r.failedEnd = end;
    return r;
  }
  pool.release(pipe);
  return { bytes, splicedBytes: bytes - copied, reason: 'eof' };
}
