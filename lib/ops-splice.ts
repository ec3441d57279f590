/**
 * splice(2) and tee(2) through the ring (IORING_OP_SPLICE, Linux 5.7;
 * IORING_OP_TEE, Linux 5.8), and {@link transfer}: file -> pipe ->
 * destination as two linked splices, the bytes never entering user space.
 * The ops are attached to {@link Ring} by declaration merging.
 */
import { Ring, type OpOptions, type RawOp } from './ring';
import { Op, SqeFlag } from './opcodes';
import { abortError, uringError, ECANCELED } from './errors';
import { validateFd, validateInt, validateSignal, toPosition } from './validate';
import { trySplice, type Pipe, type PipePool } from './pipes';
import { isCached } from './pagecache';

/** `SPLICE_F_*` flags. */
export const SpliceFlag = {
  /** Move pages instead of copying where possible (a hint). */
  MOVE: 1,
  /** Do not block on the pipe (the ring itself never blocks the thread). */
  NONBLOCK: 2,
  /** More data will follow (a hint for sockets). */
  MORE: 4,
  /** vmsplice only. */
  GIFT: 8,
} as const;

/** Pipe-fuls moved per round of {@link transfer} (one link chain, one wake-up of JavaScript). */
const ROUND_PAIRS = 4;

/** Largest length one splice/tee SQE carries (its len field is 32 bits). */
const MAX_LEN = 0xffffffff;

declare module './ring' {
  interface Ring {
    /**
     * Moves up to `length` bytes from `fdIn` to `fdOut`; one of them must be
     * a pipe. `offIn`/`offOut` are file offsets (null or -1: none, as a pipe
     * or socket requires; for a file, the file position is used and moved).
     * Resolves with the bytes moved (0: end of input).
     */
    splice(fdIn: number, offIn: number | bigint | null, fdOut: number, offOut: number | bigint | null,
      length: number, flags?: number, options?: OpOptions): Promise<number>;
    /**
     * Duplicates up to `length` bytes from pipe `fdIn` into pipe `fdOut`
     * without consuming them. Resolves with the bytes duplicated.
     */
    tee(fdIn: number, fdOut: number, length: number, flags?: number, options?: OpOptions): Promise<number>;
  }
}

function spliceOp(fdIn: number, offIn: number, fdOut: number, offOut: number, len: number, flags: number,
  signal?: AbortSignal): RawOp {
  // splice: fd = fd_out, off = off_out, addr = splice_off_in, splice_fd_in = fd_in.
  return { opcode: Op.SPLICE, fd: fdOut, off: offOut, addr: offIn, len, opFlags: flags, fdIn, syscall: 'splice', signal };
}

Ring.prototype.splice = function splice(this: Ring, fdIn: number, offIn: number | bigint | null, fdOut: number,
  offOut: number | bigint | null, length: number, flags = 0, options?: OpOptions): Promise<number> {
  validateFd(fdIn, 'fdIn');
  validateFd(fdOut, 'fdOut');
  const oi = toPosition(offIn, 'offIn');
  const oo = toPosition(offOut, 'offOut');
  validateInt(length, 'length', 0, MAX_LEN);
  validateInt(flags, 'flags', 0, 0xf);
  return this.submit(spliceOp(fdIn, oi, fdOut, oo, length, flags, options?.signal));
};

Ring.prototype.tee = function tee(this: Ring, fdIn: number, fdOut: number, length: number, flags = 0,
  options?: OpOptions): Promise<number> {
  validateFd(fdIn, 'fdIn');
  validateFd(fdOut, 'fdOut');
  validateInt(length, 'length', 0, MAX_LEN);
  validateInt(flags, 'flags', 0, 0xf);
  return this.submit({ opcode: Op.TEE, fd: fdOut, fdIn, len: length, opFlags: flags, syscall: 'tee',
    signal: options?.signal });
};

/** Options for {@link transfer}. */
export interface TransferOptions {
  /** Stops the transfer; the Promise rejects with an AbortError and the pipe is closed. */
  signal?: AbortSignal;
}

/**
 * Moves `length` bytes from `srcFd` (at `srcOffset`, or its file position
 * when null) to `dstFd` (at `dstOffset`, or its position / a socket or pipe
 * when null) through a pipe from `pool`: each round is two splices linked
 * with IOSQE_IO_LINK (source -> pipe, pipe -> destination), at most the
 * pipe's capacity at a time. When the first half is short the link breaks;
 * what reached the pipe is drained before the next round. When the source
 * is a file read at an offset and the range is in the page cache, the first
 * half is a splice(2) on this thread instead (page references only: it
 * cannot wait for the disk) and only the second half goes to the ring.
 *
 * Resolves with the bytes moved: fewer than `length` only when the source
 * ended first. On error the pipe (in an unknown state) is closed, never
 * reused, and the Promise rejects with a Node-shaped error (`syscall:
 * 'splice'`); on abort, with an AbortError.
 */
export function transfer(ring: Ring, srcFd: number, srcOffset: number | bigint | null, dstFd: number,
  dstOffset: number | bigint | null, length: number, pool: PipePool, options?: TransferOptions): Promise<number> {
  validateFd(srcFd, 'srcFd');
  validateFd(dstFd, 'dstFd');
  const srcPos = toPosition(srcOffset, 'srcOffset');
  const dstPos = toPosition(dstOffset, 'dstOffset');
  validateInt(length, 'length', 0, Number.MAX_SAFE_INTEGER);
  const signal = validateSignal(options?.signal);
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (length === 0) return Promise.resolve(0);
  return run(ring, srcFd, srcPos, dstFd, dstPos, length, pool, signal);
}

async function run(ring: Ring, srcFd: number, srcPos: number, dstFd: number, dstPos: number, length: number,
  pool: PipePool, signal: AbortSignal | undefined): Promise<number> {
  const pipe = pool.acquire();
  try {
    // Every splice carries `signal`: the ring cancels what is in flight when it fires.
    let done = 0;
    let ended = false;
    while (done < length && !ended) {
      if (signal?.aborted) throw abortError(signal);
      const first = Math.min(pipe.size, length - done);
      if (srcPos >= 0 && isCached(srcFd, srcPos, first)) {
        // The source range is in the page cache: filling the pipe only takes page references,
        // so it is done here with splice(2) (it cannot wait for the disk), and only the
        // pipe -> destination half, where the copy happens, goes to io-wq. One io-wq round
        // trip per pipe-ful instead of two.
        const a = trySplice(srcFd, pipe.writeFd, first, false, srcPos);
        if (a === 0) break; // end of the source
        if (a > 0) {
          srcPos += a;
          done += a;
          dstPos = await drain(ring, pipe, a, dstFd, dstPos, signal);
          continue;
        }
        // -1 (would block): not expected for an empty pipe; take the ring's path below.
      }
      // Up to ROUND_PAIRS pipe-fuls per round, all in one link chain: source -> pipe, pipe -> destination, ...
      const ops: RawOp[] = [];
      const chunks: number[] = [];
      for (let i = 0, at = 0, left = length - done; i < ROUND_PAIRS && left > 0; i++) {
        const chunk = Math.min(pipe.size, left);
        chunks.push(chunk);
        ops.push(spliceOp(srcFd, srcPos >= 0 ? srcPos + at : -1, pipe.writeFd, -1, chunk, SpliceFlag.MOVE, signal));
        ops.push(spliceOp(pipe.readFd, -1, dstFd, dstPos >= 0 ? dstPos + at : -1, chunk, SpliceFlag.MOVE, signal));
        at += chunk;
        left -= chunk;
      }
      const res = await ring.submitLinked(ops);
      if (signal?.aborted) throw abortError(signal);
      for (let i = 0; i < chunks.length; i++) {
        const a = res[2 * i]!;
        const b = res[2 * i + 1]!;
        if (a === -ECANCELED && i > 0) break; // cut from the chain by an earlier short pair
        if (a < 0) throw uringError(-a, 'splice');
        if (b < 0 && b !== -ECANCELED) throw uringError(-b, 'splice');
        if (a === 0) {
          ended = true; // end of the source
          break;
        }
        const out = b > 0 ? b : 0;
        if (srcPos >= 0) srcPos += a;
        if (dstPos >= 0) dstPos += out;
        done += a;
        // A short half broke the chain: empty the pipe, then start a new round.
        if (a > out) dstPos = await drain(ring, pipe, a - out, dstFd, dstPos, signal);
        if (a < chunks[i]! || out < a) break;
      }
    }
    pool.release(pipe); // empty here: reused
    return done;
  } catch (e) {
    pool.discard(pipe);
    throw e;
  }
}

/** Empties `n` bytes from the pipe into the destination; returns the new destination offset. */
async function drain(ring: Ring, pipe: Pipe, n: number, dstFd: number, dstPos: number,
  signal: AbortSignal | undefined): Promise<number> {
  while (n > 0) {
    const out = await ring.submit(spliceOp(pipe.readFd, -1, dstFd, dstPos, n, SpliceFlag.MOVE, signal));
    if (out === 0) throw uringError(5, 'splice'); // EIO: the destination took nothing
    n -= out;
    if (dstPos >= 0) dstPos += out;
  }
  return dstPos;
}

/** Re-exported for users of {@link transfer}. */
export type { PipePool, Pipe };
