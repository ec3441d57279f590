/**
 * Readiness on the Ring: IORING_OP_POLL_ADD (Linux 5.1), one-shot.
 *
 * The ring tells when a file is readable or writable; the caller then does
 * the non-blocking work itself (for example a plain splice(2) with
 * {@link trySplice}, which unlike IORING_OP_SPLICE needs no io-wq thread).
 */
import { Ring, type OpOptions } from './ring';
import { Op } from './opcodes';
import { validateFd, validateInt } from './validate';

/** `poll(2)` event bits (Linux values) for {@link Ring.poll}. */
export const PollEvent = {
  IN: 0x1,
  PRI: 0x2,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  RDHUP: 0x2000,
} as const;

declare module './ring' {
  interface Ring {
    /**
     * Waits until `fd` has one of `events` (bits of {@link PollEvent}; POLLERR
     * and POLLHUP are always reported). Resolves with the events that are
     * ready. One-shot: call again to wait again. A pending poll keeps the
     * file open in the kernel: closing the fd does not end it, so cancel it
     * with `signal` (or shut a socket down) before closing.
     */
    poll(fd: number, events: number, options?: OpOptions): Promise<number>;
  }
}

Ring.prototype.poll = function poll(this: Ring, fd: number, events: number, options?: OpOptions): Promise<number> {
  validateFd(fd);
  validateInt(events, 'events', 1, 0xffff);
  // poll_add: poll32_events shares the op-flags word of the SQE.
  return this.submit({ opcode: Op.POLL_ADD, fd, opFlags: events, syscall: 'poll', signal: options?.signal });
};
