/**
 * sendFile's stall timeout: one AbortSignal that fires when the caller's
 * signal does or when the transfer has made no progress for `ms`.
 *
 * Progress is what the transfers report (bytes spliced into the socket) and
 * what the kernel does meanwhile, sampled four times per timeout: the
 * socket's send queue changing (SIOCOUTQ). A slow but steady reader needs
 * the second: a full socket wakes its writer (POLLOUT, or a blocking splice)
 * only once about a third of its buffer is free, and at 640 KiB/s that takes
 * seconds. The pipe is not sampled: FIONREAD waits for the pipe's lock,
 * which an io-wq splice blocked on the socket holds ('linked' mode).
 * @internal
 */
import { native } from '../native';

const ETIMEDOUT = 110;

/** The error sendFile rejects with when `options.stallTimeout` runs out. */
export interface SendFileTimeoutError extends Error {
  code: 'ETIMEDOUT';
  /** Negative errno, as in Node (-110). */
  errno: number;
  /** Always `'sendfile'`. */
  syscall: 'sendfile';
  /**
   * Body bytes known to have reached the socket: a lower bound in 'linked'
   * mode (a splice cut short by the timeout does not report its count); on
   * the node:net fallback, the bytes handed to node:net.
   */
  bytesSent: number;
}

/** @internal */
export function timeoutError(ms: number, sent: number): SendFileTimeoutError {
  const err = new Error(`ETIMEDOUT: sendFile sent nothing for ${ms} ms (the peer stopped reading); ` +
    `${sent} bytes of the body were sent, sendfile`) as SendFileTimeoutError;
  err.code = 'ETIMEDOUT';
  err.errno = -ETIMEDOUT;
  err.syscall = 'sendfile';
  err.bytesSent = sent;
  return err;
}

/**
 * The signal a transfer stops on and the progress it reports. With `ms` 0
 * it is just the caller's signal (no timer, no AbortController).
 * @internal
 */
export class StallWatch {
  /** What the transfer passes to its ring operations. */
  readonly signal: AbortSignal | undefined;
  #ac: AbortController | undefined;
  #user: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  #fired = false;
  #sent = 0;
  #last = 0;
  #sockFd = -1;
  #queued = -1;

  constructor(readonly ms: number, user: AbortSignal | undefined) {
    if (ms === 0) {
      this.signal = user;
      return;
    }
    const ac = (this.#ac = new AbortController());
    this.signal = ac.signal;
    if (user) {
      this.#user = user;
      user.addEventListener('abort', this.#forward, { once: true });
    }
    this.#last = Date.now();
    this.#timer = setTimeout(this.#check, Math.ceil(ms / 4));
  }

  /** The socket whose send queue is sampled. */
  watch(sockFd: number): void {
    if (sockFd === this.#sockFd) return;
    this.#sockFd = sockFd;
    if (this.#ac) this.#sample();
  }

  /** Something moved; `sent` is the body bytes that reached the socket so far. */
  progress(sent: number): void {
    this.#sent = sent;
    if (this.#ac) this.#last = Date.now();
  }

  /** `e`, or the ETIMEDOUT error when this timer is what aborted the transfer. */
  error(e: unknown): unknown {
    return this.#fired && (e as Error | null)?.name === 'AbortError' ? timeoutError(this.ms, this.#sent) : e;
  }

  /** Stops the timer and unhooks the caller's signal. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#user?.removeEventListener('abort', this.#forward);
  }

  readonly #forward = (): void => {
    clearTimeout(this.#timer);
    this.#ac!.abort(this.#user!.reason);
  };

  /** Samples the socket's send queue (-errno if it has none); true if it changed. */
  #sample(): boolean {
    const queued = this.#sockFd >= 0 ? native.sendQueueBytes(this.#sockFd) : -1;
    const moved = queued !== this.#queued;
    this.#queued = queued;
    return moved;
  }

  // Runs every quarter of `ms`: movement found by sampling is dated to within that.
  readonly #check = (): void => {
    const now = Date.now();
    if (this.#sample()) this.#last = now;
    const idle = now - this.#last;
    if (idle < this.ms) {
      this.#timer = setTimeout(this.#check, Math.min(this.ms - idle, Math.ceil(this.ms / 4)));
      return;
    }
    this.#fired = true;
    this.#ac!.abort(timeoutError(this.ms, this.#sent));
  };
}
