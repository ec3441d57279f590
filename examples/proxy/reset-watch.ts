/**
 * Watching a socket for a reset while nothing reads it (a direction that
 * waits for its destination reads nothing from its source). A multishot
 * POLL_ADD for POLLERR: io_uring adds POLLRDHUP and POLLHUP to every poll's
 * mask, and a half-closed socket is normal, so a one-shot poll would fire at
 * once; a multishot one completes only on state changes and errors (data and
 * send space wake with events it does not take). A POLLERR counts only with
 * SO_ERROR set. The addon's relay does the same in C (native/uring/relay.h,
 * "Waiting for dst"); ready-pump.ts and connection.ts (for the io-wq pump)
 * use this.
 */
import type { Ring, StreamOp } from '../../lib/ring';
import { PollEvent } from '../../lib/ops-poll';
import { Op, CqeFlag } from '../../lib/opcodes';
import { native } from '../../lib/native';

const IORING_POLL_ADD_MULTI = 1;
const K = native.socketConstants;

/**
 * Arms the watch on `fd`. `onReset(errno)` runs for a socket error (the
 * watch stays armed: cancel it); `onEnd(res)` once the poll left the kernel:
 * res < 0 when it was cancelled or failed, else the kernel ended the
 * multishot (re-arming is then the caller's choice). Throws if the ring is gone.
 */
export function watchReset(ring: Ring, fd: number, onReset: (errno: number) => void,
  onEnd: (res: number) => void): StreamOp {
  return ring.submitStream({ opcode: Op.POLL_ADD, fd, len: IORING_POLL_ADD_MULTI, opFlags: PollEvent.ERR, syscall: 'poll' },
    (res, flags) => {
      if (res > 0 && (res & PollEvent.ERR) !== 0) {
        let err = 0;
        try { err = native.getsockopt(fd, K.SOL_SOCKET!, K.SO_ERROR!); } catch { /* closed, or not a socket */ }
        if (err !== 0) onReset(err);
      }
      if ((flags & CqeFlag.MORE) === 0) onEnd(res);
    });
}
