/**
 * Chooses, once per thread and at first use, what carries the fs facade:
 * the thread's io_uring ({@link Ring.forThread}) or, when io_uring cannot be
 * used, node:fs/promises (libuv's thread pool).
 *
 * The fallback happens when the Ring constructor throws
 * `ERR_IO_URING_UNAVAILABLE` (old kernel, `kernel.io_uring_disabled`,
 * a seccomp filter), or when the environment variable `URING_BACKEND=node`
 * asks for it. Either way exactly one warning (code `URING_FALLBACK`) says why.
 */
import { Ring } from '../ring';

/** What carries the fs facade's operations. */
export type BackendName = 'io_uring' | 'node';

let chosen: BackendName | undefined;

/** Emits the one fallback warning. */
function fallBack(reason: string): void {
  chosen = 'node';
  process.emitWarning(`uring-node fs: using node:fs/promises instead of io_uring: ${reason}`, {
    type: 'Warning',
    code: 'URING_FALLBACK',
  });
}

/** Decides the backend (first call only). */
function decide(): BackendName {
  if (chosen !== undefined) return chosen;
  const forced = process.env.URING_BACKEND;
  if (forced === 'node') {
    fallBack('the environment variable URING_BACKEND=node asks for it.');
    return 'node';
  }
  try {
    Ring.forThread();
    chosen = 'io_uring';
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_IO_URING_UNAVAILABLE') throw e;
    fallBack((e as Error).message);
  }
  return chosen as BackendName;
}

/** The backend in use, deciding it on first call. */
export function backendName(): BackendName {
  return chosen ?? decide();
}

/**
 * The thread's ring, or `undefined` when the facade runs on node:fs/promises.
 * @internal
 */
export function ringOrNode(): Ring | undefined {
  if ((chosen ?? decide()) === 'node') return undefined;
  return Ring.forThread();
}
