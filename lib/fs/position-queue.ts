/**
 * One FileHandle's operations at the file position, run one at a time.
 *
 * read(2) and write(2) hold the file's position lock for the whole call, so
 * Node's concurrent `fh.read(buf, 0, n, null)` calls each get the next
 * piece of the file. io_uring reads the position without that lock: reads
 * that miss the page cache go to io-wq workers, run in parallel, and all
 * start at the same offset (every one returns the first block, and the
 * position ends up wrong). Operations at explicit offsets never touch the
 * position and do not queue.
 * @internal
 */
import { abortError } from '../errors';

/** Runs the position operations of one handle in the order they were started. */
export class PositionQueue {
  /** An operation is running (it hands its turn to the next waiter, or clears this). */
  #busy = false;
  /** Waiters, oldest first: each starts its operation when called. */
  readonly #waiting: (() => void)[] = [];

  /**
   * Runs `fn` once the operations queued before it have settled (fulfilled
   * or rejected: a failure is its caller's alone and the next one still
   * runs). `signal` firing while the operation waits rejects it with an
   * AbortError and takes it out of the queue; once `fn` runs, aborting is
   * `fn`'s business.
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw abortError(signal);
    if (this.#busy) await this.#turn(signal);
    else this.#busy = true;
    try {
      return await fn();
    } finally {
      this.#passOn();
    }
  }

  /** Resolves when this waiter's turn comes; rejects (and leaves the queue) if `signal` fires first. */
  #turn(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!signal) {
        this.#waiting.push(resolve);
        return;
      }
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(go);
        if (i !== -1) this.#waiting.splice(i, 1);
        reject(abortError(signal));
      };
      // The listener goes as the turn is handed over: an abort after that cannot reject a running operation.
      const go = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(go);
    });
  }

  /** Hands the turn to the oldest waiter, or marks the queue idle. */
  #passOn(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#busy = false;
  }
}
