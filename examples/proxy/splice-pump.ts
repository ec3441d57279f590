/**
 * One direction of a proxied connection, in the manner of HAProxy's
 * `option splice-auto`: bulk data moves socket -> pooled pipe -> socket with
 * IORING_OP_SPLICE (no payload in user space); small exchanges are copied
 * through one small buffer with ring recv/send.
 *
 * Why both: io_uring cannot issue a splice without blocking, so each pending
 * splice parks an io-wq kernel thread in the socket's splice_read and every
 * hand-off is a thread wake-up. For request/response traffic of a few KiB that
 * cost more CPU than the copy it saves (bench/RESULTS.md, "HTTP servers": 62 vs
 * 21 us per 4 KiB request against HAProxy). A recv/send on the ring is a
 * poll-armed, non-blocking operation with no extra thread. So a direction
 * starts in copy mode, switches to splice when a recv fills the whole buffer
 * (a bulk transfer), and goes back to copying when a splice brings less than
 * that buffer's size.
 *
 * Each round buffers at most one pipe-ful (or one small buffer), so a slow
 * destination slows the source down: that is the backpressure. Splice halves
 * are not linked: on sockets a short first half is the normal case, and a
 * short splice breaks an IOSQE_IO_LINK chain anyway.
 */
import type { Ring } from '../../lib/ring';
import type { Pipe, PipePool } from '../../lib/pipes';
import '../../lib/ops-net';
import { Op } from '../../lib/opcodes';

const SPLICE_F_MOVE = 1;
/** Size of the copy buffer; a recv that fills it switches the direction to splice. */
export const COPY_BUFFER = 16 * 1024;

/** How a pump ended. */
export interface PumpResult {
  /** Bytes that reached the destination. */
  bytes: number;
  /** Of those, bytes moved by splice (never in user space). */
  splicedBytes: number;
  /** 'eof': the source finished sending; 'error': a splice failed. */
  reason: 'eof' | 'error';
  /** The failure, for 'error'. */
  error?: NodeJS.ErrnoException;
}

/** Splices up to `len` bytes from `fdIn` to `fdOut` (one side a pipe); resolves with the count. */
export function splice(ring: Ring, fdIn: number, fdOut: number, len: number): Promise<number> {
  // splice: fd = out, off = off_out, addr = off_in (-1: none), fdIn = splice_fd_in.
  return ring.submit({ opcode: Op.SPLICE, fd: fdOut, off: -1, addr: -1, len, opFlags: SPLICE_F_MOVE, fdIn,
    syscall: 'splice' });
}

/**
 * Moves bytes from `src` to `dst` until `src` reaches end of stream or an
 * operation fails. On end of stream the destination's write side is shut down
 * by the caller (half-close propagates). The pipe goes back to the pool only
 * if it is empty; after an error it is closed, never reused.
 */
export async function pump(ring: Ring, src: number, dst: number, pool: PipePool,
  onProgress: (bytes: number) => void): Promise<PumpResult> {
  const buf = Buffer.allocUnsafe(COPY_BUFFER);
  let pipe: Pipe | undefined;
  let buffered = 0;
  let bytes = 0;
  let splicedBytes = 0;
  let splicing = false;
  try {
    for (;;) {
      if (!splicing) {
        const n = await ring.recv(src, buf, 0, COPY_BUFFER);
        if (n === 0) break;
        onProgress(n);
        for (let off = 0; off < n;) off += await ring.send(dst, buf, off, n - off);
        bytes += n;
        if (n === COPY_BUFFER) splicing = true; // the source has more than a small message: bulk
        continue;
      }
      pipe ??= pool.acquire();
      const n = await splice(ring, src, pipe.writeFd, pipe.size);
      if (n === 0) break;
      buffered = n;
      onProgress(n);
      while (buffered > 0) {
        const m = await splice(ring, pipe.readFd, dst, buffered);
        buffered -= m;
        bytes += m;
        splicedBytes += m;
      }
      if (n < COPY_BUFFER) splicing = false; // back to small exchanges
    }
  } catch (e) {
    if (pipe) pool.discard(pipe);
    return { bytes, splicedBytes, reason: 'error', error: e as NodeJS.ErrnoException };
  }
  if (pipe) pool.release(pipe);
  return { bytes, splicedBytes, reason: 'eof' };
}
