/**
 * File descriptors this thread's runtime objects own: closed when the
 * thread's Node.js environment is torn down (a worker_thread terminated, or
 * ended by an uncaught exception), as node:net closes its sockets and
 * node:fs/promises its FileHandles then. No JavaScript runs at that point,
 * so the addon keeps the set and closes what is left in it
 * (native/uring/owned_fds.cc).
 *
 * The facades (lib/net, lib/fs, lib/pipes) adopt every fd they create;
 * {@link Ring.close} and the addon's closeFd release an fd before closing it
 * (after a close the number may already be another file's, which teardown
 * must never close).
 */
import { native } from './native';
import { validateFd } from './validate';

/**
 * Makes this thread close `fd` when its environment is torn down (worker
 * terminated or crashed), unless it is closed first with {@link Ring.close}
 * or released with {@link releaseFd}. For fds made with the raw Ring API
 * (`ring.open`, `ring.socket`, accepts) that should not outlive a worker;
 * the facades do this for theirs. Closing an adopted fd any other way
 * (node:fs closeSync) must be preceded by {@link releaseFd}.
 * @returns `fd`, for chaining.
 * @throws TypeError (ERR_INVALID_ARG_TYPE) / RangeError (ERR_OUT_OF_RANGE) when `fd` is not an integer >= 0.
 */
export function adoptFd(fd: number): number {
  validateFd(fd);
  native.adoptFd(fd);
  return fd;
}

/**
 * Stops {@link adoptFd}'s promise for `fd` (the caller closes it, or hands
 * it to code that will).
 * @returns whether `fd` was adopted.
 * @throws as {@link adoptFd} for a bad `fd`.
 */
export function releaseFd(fd: number): boolean {
  validateFd(fd);
  return native.releaseFd(fd);
}

/** How many fds this thread has adopted and not yet closed or released. */
export function adoptedFdCount(): number {
  return native.adoptedFds();
}
