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
 */
import type { Ring } from '../../lib/ring';
import type { Pipe, PipePool } from '../../lib/pipes';
import { Op } from '../../lib/opcodes';

const SPLICE_F_MOVE = 1;

/** How a pump ended. */
export interface PumpResult {
  /** Bytes that reached the destination. */
  bytes: number;
  /** Of those, bytes moved by splice (all of them: this pump never copies). */
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
 * Moves bytes from `src` to `dst` until `src` reaches end of stream or a
 * splice fails. On end of stream the destination's write side is shut down
 * (half-close propagates). The pipe goes back to the pool only if it is
 * empty; after an error it is closed, never reused.
 */
export async function pump(ring: Ring, src: number, dst: number, pool: PipePool,
  onProgress: (bytes: number) => void): Promise<PumpResult> {
  let pipe: Pipe;
  try {
    pipe = pool.acquire();
  } catch (e) {
    return { bytes: 0, splicedBytes: 0, reason: 'error', error: e as NodeJS.ErrnoException };
  }
  let buffered = 0;
  let bytes = 0;
  try {
    for (;;) {
      const n = await splice(ring, src, pipe.writeFd, pipe.size);
      if (n === 0) break;
      buffered = n;
      onProgress(n);
      while (buffered > 0) {
        const m = await splice(ring, pipe.readFd, dst, buffered);
        buffered -= m;
        bytes += m;
      }
    }
  } catch (e) {
    pool.discard(pipe);
    return { bytes, splicedBytes: bytes, reason: 'error', error: e as NodeJS.ErrnoException };
  }
  pool.release(pipe);
  return { bytes, splicedBytes: bytes, reason: 'eof' };
}
