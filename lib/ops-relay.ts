/**
 * Relays on the Ring: bytes from one socket (or pipe) to another, moved by
 * the addon right where it reads the completions, with no JavaScript per
 * chunk. Three modes:
 *
 * - `'splice'` (default): the ring reports when the source is readable and
 *   the addon moves the bytes with non-blocking splice(2) calls through a
 *   pipe: no payload enters user space (but for one byte at a TCP urgent
 *   mark, which splice(2) cannot pass: recv/send move it) and no io-wq
 *   thread is involved. A small message costs two splices, in and out (the
 *   readiness poll is one-shot and checked when armed, so a short read needs
 *   no third call to learn the socket is empty: native/uring/relay.h). Pipes
 *   come from a pool of the ring and are held only while bytes are inside
 *   them, so an idle relay costs no pipe. Sockets and pipes; both fds are
 *   made O_NONBLOCK.
 * - `'copy'`: a recv into a provided-buffer group the ring keeps for its
 *   relays (64 buffers of 256 KiB, shared), and a send from the same
 *   buffer, both as SQEs, so a message costs no system call of its own. The
 *   kernel copies in and out, which for small messages is cheaper than
 *   moving page references through a pipe. Stream sockets only; both fds
 *   are made blocking (the ring does the waiting).
 * - `'auto'`: splice mode for bulk, a copy for small messages (what
 *   HAProxy's `option splice-auto` does). On each readiness event the addon
 *   first tries one recv(2) of up to 16 KiB into a scratch buffer of the
 *   ring and a send(2) from it; a recv that fills the 16 KiB switches the
 *   direction to splice, where it stays while readiness events bring at
 *   least 16 KiB each. A small message costs two calls, recv and send.
 *   What the destination does not take is copied into a buffer of the
 *   relay's own (at most 16 KiB) and sent when it has room; nothing more is
 *   read meanwhile. Stream sockets only; both fds are made O_NONBLOCK.
 *
 * While the destination does not take more, a relay stops reading
 * (backpressure: at most one pipe-ful is held in splice mode; in copy mode
 * at most 4 of the shared buffers, and no new recv once 256 KiB wait).
 * A relay ends at the source's end of stream (after everything received
 * was delivered), on the first failed call, or when cancelled; it never
 * closes or shuts down either fd (a proxy propagates the half-close itself:
 * see examples/proxy).
 */
import { Ring, type NativeOp } from './ring';
import { abortError, invalidArgType, invalidArgValue, uringError, ECANCELED } from './errors';
import { validateFd, validateInt, validateSignal } from './validate';
import type { NativeRing } from './native';

/** Default pipe capacity of a relay (bytes buffered at most per direction). */
export const RELAY_PIPE_SIZE = 64 * 1024;

const EINVAL = 22;
const EBADF = 9;
const ENOMEM = 12;

/** How a relay moves bytes; see lib/ops-relay.ts. */
export type RelayMode = 'splice' | 'copy' | 'auto';

/** The addon's mode codes (RelayMode in native/uring/relay.h). */
const MODE_CODE: Readonly<Record<RelayMode, number>> = { splice: 0, copy: 1, auto: 2 };

/** Options for {@link Ring.relay}. */
export interface RelayOptions {
  /**
   * `'splice'` (default: zero-copy through a pipe), `'copy'` (recv/send SQEs
   * through the ring's buffers) or `'auto'` (splice for bulk, copy for
   * messages under 16 KiB).
   */
  mode?: RelayMode;
  /** Splice and auto modes: capacity of the relay's pipe in bytes (default 64 KiB; the kernel may grant less). */
  pipeSize?: number;
  /** Cancels the relay: it then ends with an AbortError. */
  signal?: AbortSignal;
  /**
   * Called once when the relay ended (the same result {@link Relay.done}
   * resolves with). One shared function for many relays costs less memory
   * than a Promise and a closure each; an exception it throws is reported
   * as uncaught.
   */
  onEnd?: (result: RelayResult, relay: Relay) => void;
}

/** How a relay ended. */
export interface RelayResult {
  /** Bytes delivered to the destination. */
  bytes: number;
  /**
   * Bytes of `bytes` that were delivered from user-space memory (received
   * with recv rather than spliced): all of them in copy mode, the small
   * messages in auto mode, 0 in splice mode.
   */
  copiedBytes: number;
  /** True when the source reached end of stream (the normal end). */
  eof: boolean;
  /** Why it stopped otherwise: the failed call's error (`syscall` names it: 'splice', 'recv', 'send', 'poll', 'pipe2' when no pipe could be made (EMFILE), 'io_uring_enter'), or ECANCELED / AbortError. */
  error?: NodeJS.ErrnoException;
  /**
   * With `error`: the socket the failed call was on, `'source'` (reading it,
   * or its poll) or `'destination'` (writing it, or its poll). Absent for
   * failures of neither (no pipe, the ring) and for cancels.
   */
  failedEnd?: RelayEnd;
}

/** One of a relay's two sockets. */
export type RelayEnd = 'source' | 'destination';

/** What {@link Ring.relayStats} reports. */
export interface RelayStats {
  /** Relays running now. */
  live: number;
  /** Pipes holding bytes of a splice relay now. */
  pipesInUse: number;
  /** Empty pipes kept for the next splice relay (two fds each). */
  pipesIdle: number;
  /** Times a copy relay found the ring's relay buffers all taken (it waits for one to come back). */
  bufferWaits: number;
  /** Relay buffers holding received bytes not yet sent (of 64; a relay holds at most 4 at a time, then pauses). */
  buffersHeld: number;
  /**
   * Relay buffers whose pages were given back to the kernel as they were
   * recycled (at most once a second per buffer, when more than a page of it
   * was written), so an idle server does not keep the memory a burst touched.
   */
  bufferTrims: number;
}

/** A running relay; see {@link Ring.relay}. */
export class Relay implements NativeOp {
  /** The fd bytes are read from. */
  readonly src: number;
  /** The fd bytes are written to. */
  readonly dst: number;
  readonly #h: NativeRing;
  #id = -1;
  #bytes = 0;
  #result: RelayResult | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #aborted = false;
  #onEnd: ((result: RelayResult, relay: Relay) => void) | undefined;
  #done: Promise<RelayResult> | undefined;
  #settle: ((r: RelayResult) => void) | undefined;

  /** @internal use {@link Ring.relay} */
  constructor(ring: Ring, src: number, dst: number, pipeSize: number, mode: RelayMode, options: RelayOptions) {
    // Kept small: a server may hold one per connection (no Promise until `done` is read).
    const h = ring.handle;
    this.#h = h;
    this.src = src;
    this.dst = dst;
    this.#onEnd = options.onEnd;
    this.#id = ring.startNative('relay', () => relayStart(h, src, dst, pipeSize, mode), this);
    const signal = options.signal;
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => {
        this.#aborted = true;
        this.cancel();
      };
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /**
   * Resolves (never rejects) once the relay ended and the kernel holds none
   * of its operations; when the ring is destroyed and the kernel does not
   * confirm in time, with ECANCELED anyway (its buffers then stay mapped).
   */
  get done(): Promise<RelayResult> {
    if (!this.#done) {
      if (this.#result) this.#done = Promise.resolve(this.#result);
      else this.#done = new Promise<RelayResult>((resolve) => { this.#settle = resolve; });
    }
    return this.#done;
  }

  /** Bytes delivered to the destination so far. */
  get bytes(): number {
    if (this.#result) return this.#result.bytes;
    const b = this.#h.relayBytes(this.#id);
    if (b >= 0) this.#bytes = b;
    return this.#bytes;
  }

  /** Ends the relay now; it then ends with ECANCELED (AbortError when its signal fired). Idempotent. */
  cancel(): void {
    if (this.#result) return;
    this.#h.relayStop(this.#id); // a destroyed ring ignores it: its teardown ended the relay
  }

  /** Same as cancel(), for the ring's destroy(). @internal */
  nativeStop(): void {
    this.cancel();
  }

  /** The addon reports the end (0: end of stream, else -errno). @internal */
  nativeEnd(res: number): void {
    if (this.#signal && this.#onAbort) this.#signal.removeEventListener('abort', this.#onAbort);
    const [bytes, failure, copied] = this.#h.relayEnd(this.#id);
    let copiedBytes = 0;
    if (bytes >= 0) {
      this.#bytes = bytes;
      copiedBytes = copied;
    } else {
      // A ring being destroyed ends relays the kernel never confirmed: their count is still readable.
      const now = this.#h.relayBytes(this.#id);
      if (now >= 0) this.#bytes = now;
    }
    let error: NodeJS.ErrnoException | undefined;
    if (res === -ECANCELED && this.#aborted) error = abortError(this.#signal) as NodeJS.ErrnoException;
    else if (res < 0) error = uringError(-res, FAILED_CALL[failure] ?? 'relay');
    const result: RelayResult = { bytes: this.#bytes, copiedBytes, eof: res === 0, error };
    const end = error && !this.#aborted && res !== -ECANCELED ? FAILED_END[failure] : undefined;
    if (end) result.failedEnd = end;
    this.#result = result;
    this.#settle?.(result);
    if (this.#onEnd) {
      try {
        this.#onEnd(result, this);
      } catch (e) {
        // Not into the completion loop (the rest of the batch must still be delivered).
        process.nextTick(() => { throw e; });
      }
    }
  }
}

/** The call a relay failed in, by the addon's RelayFailure code (relay.h); 0 and cancels: 'relay'. */
const FAILED_CALL: readonly string[] = ['relay', 'splice', 'recv', 'send', 'poll', 'io_uring_enter', 'pipe2', 'splice', 'poll'];
/** The socket that call was on, by the same code. */
const FAILED_END: ReadonlyArray<RelayEnd | undefined> = [undefined, 'source', 'source', 'destination', 'source',
  undefined, undefined, 'destination', 'destination'];

/** Bytes of the copy relays' buffers (native/uring/relay_bufs.h: 64 x 256 KiB), mapped once per ring. */
const RELAY_BUFFER_BYTES = 64 * 256 * 1024;

/** relayStart with the addon's errors made Node-shaped (code, errno, syscall). */
function relayStart(h: NativeRing, src: number, dst: number, pipeSize: number, mode: RelayMode): number {
  try {
    return h.relayStart(src, dst, pipeSize, MODE_CODE[mode]);
  } catch (e) {
    const { errno, syscall } = e as { errno?: number; syscall?: string };
    if (typeof errno !== 'number') throw e;
    const err = uringError(-errno, syscall ?? 'relay');
    if (syscall === 'mmap') {
      err.message += `: the ring's copy-relay buffers (${RELAY_BUFFER_BYTES >> 20} MiB, taken by the first copy or auto relay) could not be mapped; free memory or raise the address-space limit (ulimit -v)`;
    } else if (syscall === 'io_uring_register') {
      err.message += errno === -ENOMEM
        ? ': registering the copy-relay buffer ring needs locked memory (RLIMIT_MEMLOCK, `ulimit -l`)'
        : ': copy relays need provided-buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19+)';
    }
    if (errno === -EINVAL) {
      err.message += mode !== 'splice' ? `: src and dst must be stream sockets in mode '${mode}'`
        : ': src and dst must be sockets or pipes (a regular file would block the loop)';
    }
    if (errno === -EBADF) err.message += `: src ${src} or dst ${dst} is not an open fd`;
    throw err;
  }
}

declare module './ring' {
  interface Ring {
    /**
     * Moves bytes from `src` to `dst` until `src` reaches end of stream, a
     * call fails, or the relay is cancelled; see lib/ops-relay.ts for the three
     * modes. `src` may equal `dst` (an echo). Neither fd is closed or shut
     * down by the relay; their O_NONBLOCK flag is set (splice, auto) or cleared (copy).
     * Keep both open until {@link Relay.done} resolves.
     * @throws TypeError/RangeError for bad arguments; from the addon, with
     * `syscall`: EBADF or EINVAL ('relay': an fd that is closed, or not a
     * stream socket or (splice) a pipe), the buffer group's registration
     * error ('io_uring_register', e.g. a kernel before 6.0 for copy mode),
     * EBUSY ('io_uring_enter': no SQE even after a submit); the ring's
     * closed-ring error after destroy().
     */
    relay(src: number, dst: number, options?: RelayOptions): Relay;
    /**
     * Live relays, the pipes of this ring's relay pool (for leak checks), and
     * how often a copy relay found every relay buffer taken and had to wait.
     */
    relayStats(): RelayStats;
  }
}

Ring.prototype.relay = function relay(this: Ring, src: number, dst: number, options: RelayOptions = {}): Relay {
  validateFd(src, 'src');
  validateFd(dst, 'dst');
  const pipeSize = options.pipeSize ?? RELAY_PIPE_SIZE;
  validateInt(pipeSize, 'options.pipeSize', 4096, 1 << 30);
  const mode = options.mode ?? 'splice';
  if (typeof mode !== 'string' || !Object.hasOwn(MODE_CODE, mode)) {
    throw invalidArgValue('options.mode', "must be 'splice', 'copy' or 'auto'", mode);
  }
  validateSignal(options.signal);
  if (options.onEnd !== undefined && typeof options.onEnd !== 'function') {
    throw invalidArgType('options.onEnd', 'function', options.onEnd);
  }
  return new Relay(this, src, dst, pipeSize, mode, options);
};

Ring.prototype.relayStats = function relayStats(this: Ring) {
  const [live, pipesInUse, pipesIdle, bufferWaits, bufferTrims, buffersHeld] = this.handle.relayInfo();
  return { live, pipesInUse, pipesIdle, bufferWaits, bufferTrims, buffersHeld };
};
