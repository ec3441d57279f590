/**
 * A read(2) that the kernel hands to its io-wq worker threads at once
 * (IOSQE_ASYNC) instead of copying from the page cache inline in
 * io_uring_enter. For large cached reads this moves the memcpy off the
 * event-loop thread and lets several reads copy on several CPUs, as libuv's
 * thread pool does; for small reads the inline path is cheaper.
 * @internal
 */
import type { Ring } from '../ring';
import { Op, SqeFlag } from '../opcodes';

/** Reads at or above this many bytes go to io-wq (IOSQE_ASYNC). */
export const ASYNC_READ_MIN = 32 * 1024;

/** pread of `length` bytes into `buffer[offset..]` at `position` (-1: the file position). */
export function readAsync(ring: Ring, fd: number, buffer: ArrayBufferView, offset: number, length: number,
  position: number): Promise<number> {
  return ring.submit({
    opcode: Op.READ, fd, flags: SqeFlag.ASYNC, off: position, buf1: buffer, addr: offset, len: length,
    syscall: 'read',
  });
}

/** A read that goes to io-wq when it is large, inline when it is small. */
export function readSized(ring: Ring, fd: number, buffer: ArrayBufferView, offset: number, length: number,
  position: number): Promise<number> {
  return length >= ASYNC_READ_MIN
    ? readAsync(ring, fd, buffer, offset, length, position)
    : ring.read(fd, buffer, offset, length, position);
}
