/**
 * Reads and writes through registered buffers (IORING_OP_READ_FIXED and
 * IORING_OP_WRITE_FIXED, Linux 5.1): the SQE names the buffer by its
 * registered index, so the kernel uses pages it pinned once at registration.
 * Attached to {@link Ring} by declaration merging.
 */
import { Ring, type OpOptions } from './ring';
import { Op } from './opcodes';
import { FixedBuffer } from './buffers';
import { invalidArgType } from './errors';
import { validateFd, validateInt, toPosition, MAX_IO } from './validate';

declare module './ring' {
  interface Ring {
    /**
     * Reads up to `length` bytes from `fd` at `position` into
     * `fixedBuffer.buffer[offset..]` (IORING_OP_READ_FIXED). Resolves with the
     * bytes read (0 at end of file; fewer than asked is not an error).
     * @throws an `ERR_FIXED_BUFFER_RELEASED` error for a released buffer,
     * `ERR_FIXED_BUFFER_FOREIGN` for one registered with another ring.
     */
    readFixed(fd: number, fixedBuffer: FixedBuffer, offset: number, length: number,
      position: number | bigint | null, options?: OpOptions): Promise<number>;
    /**
     * Writes `length` bytes of `fixedBuffer.buffer[offset..]` to `fd` at
     * `position` (IORING_OP_WRITE_FIXED). Resolves with the bytes written.
     */
    writeFixed(fd: number, fixedBuffer: FixedBuffer, offset: number, length: number,
      position: number | bigint | null, options?: OpOptions): Promise<number>;
  }
}

/** Validates the arguments of a fixed read/write and returns the kernel offset. @internal */
export function checkFixedArgs(ring: Ring, fd: number, fb: FixedBuffer, offset: number, length: number,
  position: number | bigint | null): number {
  validateFd(fd);
  if (!(fb instanceof FixedBuffer)) {
    throw invalidArgType('fixedBuffer', 'a FixedBuffer from BufferPool.acquire()', fb);
  }
  fb.check(ring, 'fixedBuffer');
  const size = fb.buffer.length;
  validateInt(offset, 'offset', 0, size);
  validateInt(length, 'length', 0, Math.min(size - offset, MAX_IO));
  return toPosition(position);
}

/**
 * Submits a READ_FIXED/WRITE_FIXED whose arguments were checked
 * ({@link checkFixedArgs}); `mapError` may rewrite a failure.
 * @internal
 */
export function submitFixed(ring: Ring, opcode: number, syscall: string, fd: number, fb: FixedBuffer, offset: number,
  length: number, pos: number, signal: AbortSignal | undefined, mapError?: (e: unknown) => unknown): Promise<number> {
  return fb.track(ring.submit({
    opcode, fd, off: pos, buf1: fb.buffer, addr: offset, len: length, bufIndex: fb.index, hold: fb, syscall, signal,
  }), mapError);
}

function fixedOp(ring: Ring, opcode: number, syscall: string, fd: number, fb: FixedBuffer, offset: number,
  length: number, position: number | bigint | null, options: OpOptions | undefined): Promise<number> {
  const pos = checkFixedArgs(ring, fd, fb, offset, length, position);
  return submitFixed(ring, opcode, syscall, fd, fb, offset, length, pos, options?.signal);
}

Ring.prototype.readFixed = function readFixed(this: Ring, fd: number, fixedBuffer: FixedBuffer, offset: number,
  length: number, position: number | bigint | null, options?: OpOptions): Promise<number> {
  return fixedOp(this, Op.READ_FIXED, 'read', fd, fixedBuffer, offset, length, position, options);
};

Ring.prototype.writeFixed = function writeFixed(this: Ring, fd: number, fixedBuffer: FixedBuffer, offset: number,
  length: number, position: number | bigint | null, options?: OpOptions): Promise<number> {
  return fixedOp(this, Op.WRITE_FIXED, 'write', fd, fixedBuffer, offset, length, position, options);
};
