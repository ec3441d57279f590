/**
 * A pool of pipes for splice(2)/tee(2) transfers, as HAProxy keeps one:
 * pipes are created once, sized with F_SETPIPE_SZ, and reused. A pipe goes
 * back to the pool only when it is known to be empty; one left in an unknown
 * state (an error mid-transfer, data still inside) is closed, never reused.
 */
import { native } from './native';
import { uringError } from './errors';
import { adoptFd } from './owned-fds';

const EAGAIN = 11;

/** One pipe from the pool. */
export interface Pipe {
  /** Read end. */
  readonly readFd: number;
  /** Write end. */
  readonly writeFd: number;
  /** Capacity in bytes (what F_SETPIPE_SZ granted). */
  readonly size: number;
}

/** Options for {@link PipePool}. */
export interface PipePoolOptions {
  /** Requested capacity of each pipe in bytes (default 1 MiB; the kernel may grant less). */
  pipeSize?: number;
  /** Idle pipes kept for reuse (default 64); more are closed on release. */
  maxIdle?: number;
}

/** A pool of reusable pipes. */
export class PipePool {
  readonly #idle: Pipe[] = [];
  readonly #pipeSize: number;
  readonly #maxIdle: number;
  #inUse = 0;
  #created = 0;

  constructor(options: PipePoolOptions = {}) {
    this.#pipeSize = options.pipeSize ?? 1 << 20;
    this.#maxIdle = options.maxIdle ?? 64;
  }

  /** Takes an empty pipe from the pool, creating one if none is idle. */
  acquire(): Pipe {
    let p = this.#idle.pop();
    if (!p) {
      const [r, w, size] = native.makePipe(this.#pipeSize);
      p = { readFd: adoptFd(r), writeFd: adoptFd(w), size };
      this.#created++;
    }
    this.#inUse++;
    return p;
  }

  /**
   * Returns a pipe. It is reused only if it is empty; otherwise (or if the
   * pool is full) both ends are closed.
   */
  release(p: Pipe): void {
    this.#inUse--;
    let empty = false;
    try {
      empty = native.pendingBytes(p.readFd) === 0;
    } catch {
      empty = false;
    }
    if (empty && this.#idle.length < this.#maxIdle) this.#idle.push(p);
    else PipePool.#close(p);
  }

  /** Closes a pipe whose state is unknown (after an error); it is never reused. */
  discard(p: Pipe): void {
    this.#inUse--;
    PipePool.#close(p);
  }

  /** Pipes handed out and not yet returned. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Pipes waiting in the pool. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Pipes created over the pool's life. */
  get created(): number {
    return this.#created;
  }

  /** Closes every idle pipe. Pipes in use are closed when released. */
  close(): void {
    for (const p of this.#idle.splice(0)) PipePool.#close(p);
  }

  static #close(p: Pipe): void {
    try { native.closeFd(p.readFd); } catch { /* already closed */ }
    try { native.closeFd(p.writeFd); } catch { /* already closed */ }
  }
}

let threadPool: PipePool | undefined;

/** The calling thread's shared pipe pool. */
export function pipePool(): PipePool {
  if (!threadPool) threadPool = new PipePool();
  return threadPool;
}

/**
 * One non-blocking splice(2) on the calling thread: moves up to `length`
 * bytes from `fdIn` to `fdOut` (one of them a pipe). Returns the bytes
 * moved, 0 at end of stream, or -1 when nothing can move without waiting
 * (wait for readiness with `ring.poll`, then call again). A socket involved
 * must be O_NONBLOCK, else the call may block. Other failures throw a
 * Node-shaped error (`syscall: 'splice'`).
 *
 * Why not IORING_OP_SPLICE: io_uring always runs a splice in an io-wq
 * worker thread, and for small transfers that hand-off costs more than the
 * copy splice saves. Readiness from the ring plus this call is what an
 * epoll server does, with no payload in user space.
 *
 * A regular file as the source never reports "would block": splice(2)
 * waits for the disk when its pages are not cached. Check with
 * `isCached` (lib/pagecache.ts) first and hand uncached ranges to the ring
 * (IORING_OP_SPLICE runs in an io-wq thread, off the event loop).
 *
 * @param more - pass SPLICE_F_MORE (more data follows: the socket may hold a partial segment back)
 * @param position - for a regular file as the source: read from this offset (its file position is untouched)
 */
export function trySplice(fdIn: number, fdOut: number, length: number, more = false, position = -1): number {
  const n = native.spliceNow(fdIn, fdOut, length, more, position);
  if (n >= 0) return n;
  if (n === -EAGAIN) return -1;
  throw uringError(-n, 'splice');
}
