/**
 * Relays on the Ring: bytes from one socket (or pipe) to another through a
 * pipe with splice(2), driven entirely by the addon.
 *
 * The ring reports when the source is readable (a multishot
 * IORING_OP_POLL_ADD) and the addon moves the bytes right where it reads
 * that completion, with non-blocking splice(2) calls: no payload enters user
 * space, no io-wq thread is involved and no JavaScript runs per chunk. While
 * the destination is full the relay waits for POLLOUT and reads nothing more
 * (backpressure: at most one pipe-ful is buffered). Pipes come from a pool
 * of the ring and are held only while bytes are inside them, so an idle
 * relay costs no pipe. A relay ends at the source's end of stream, on the
 * first failed call, or when cancelled; it never closes or shuts down either
 * fd (a proxy propagates the half-close itself: see examples/proxy).
 */
import { Ring } from './ring';
import { abortError, uringError, ECANCELED } from './errors';
import { validateFd, validateInt, validateSignal } from './validate';
import type { NativeRing } from './native';

/** Default pipe capacity of a relay (bytes buffered at most per direction). */
export const RELAY_PIPE_SIZE = 64 * 1024;

const EINVAL = 22;
const EBADF = 9;

/** Options for {@link Ring.relay}. */
export interface RelayOptions {
  /** Capacity of the relay's pipe in bytes (default 64 KiB; the kernel may grant less). */
  pipeSize?: number;
  /** Cancels the relay: it then ends with an AbortError. */
  signal?: AbortSignal;
}

/** How a relay ended. */
export interface RelayResult {
  /** Bytes delivered to the destination. */
  bytes: number;
  /** True when the source reached end of stream (the normal end). */
  eof: boolean;
  /** Why it stopped otherwise: the failed call's error (`syscall: 'splice'`), or ECANCELED / AbortError. */
  error?: NodeJS.ErrnoException;
}

/** A running relay; see {@link Ring.relay}. */
export class Relay {
  /** Resolves (never rejects) once the relay ended and the kernel holds none of its operations. */
  readonly done: Promise<RelayResult>;
  readonly #h: NativeRing;
  #id = -1;
  #ended = false;
  #finalBytes = 0;
  #abortedBy: AbortSignal | undefined;

  /** @internal use {@link Ring.relay} */
  constructor(ring: Ring, src: number, dst: number, pipeSize: number, signal: AbortSignal | undefined) {
    const h = ring.handle;
    this.#h = h;
    let settle!: (r: RelayResult) => void;
    this.done = new Promise<RelayResult>((resolve) => { settle = resolve; });
    const onAbort = (): void => {
      this.#abortedBy = signal;
      this.cancel();
    };
    ring.startNative('relay', (slot, gen) => { this.#id = startNative(h, slot, gen, src, dst, pipeSize); }, (res) => {
      signal?.removeEventListener('abort', onAbort);
      this.#ended = true;
      const bytes = h.relayEnd(this.#id);
      this.#finalBytes = bytes >= 0 ? bytes : this.#finalBytes; // -1: the ring was destroyed first
      let error: NodeJS.ErrnoException | undefined;
      if (res === -ECANCELED && this.#abortedBy) error = abortError(this.#abortedBy) as NodeJS.ErrnoException;
      else if (res < 0) error = uringError(-res, res === -ECANCELED ? 'relay' : 'splice');
      settle({ bytes: this.#finalBytes, eof: res === 0, error });
    });
    if (signal) {
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** Bytes delivered to the destination so far. */
  get bytes(): number {
    if (this.#ended) return this.#finalBytes;
    const b = this.#h.relayBytes(this.#id);
    if (b >= 0) this.#finalBytes = b;
    return this.#finalBytes;
  }

  /** Ends the relay now; {@link Relay.done} then resolves with ECANCELED. Idempotent. */
  cancel(): void {
    if (this.#ended) return;
    this.#h.relayStop(this.#id); // a destroyed ring ignores it: its teardown ended the relay
  }
}

/** relayStart with the addon's errors made Node-shaped (code, errno, syscall 'relay'). */
function startNative(h: NativeRing, slot: number, gen: number, src: number, dst: number, pipeSize: number): number {
  try {
    return h.relayStart(slot, gen, src, dst, pipeSize);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (typeof errno !== 'number') throw e;
    const err = uringError(-errno, 'relay');
    if (errno === -EINVAL) err.message += ': src and dst must be sockets or pipes (a regular file would block the loop)';
    if (errno === -EBADF) err.message += `: src ${src} or dst ${dst} is not an open fd`;
    throw err;
  }
}

declare module './ring' {
  interface Ring {
    /**
     * Moves bytes from `src` to `dst` until `src` reaches end of stream, a
     * call fails, or the relay is cancelled; see lib/ops-relay.ts. Both fds
     * must be sockets or pipes (`src` may equal `dst`: an echo); both are
     * switched to O_NONBLOCK. Neither is closed or shut down by the relay.
     * Keep both open until {@link Relay.done} resolves.
     * @throws TypeError/RangeError for bad arguments; EBADF/EINVAL from the addon
     * for an fd that is closed or not a socket or pipe.
     */
    relay(src: number, dst: number, options?: RelayOptions): Relay;
    /** Live relays and the pipes of this ring's relay pool (for leak checks). */
    relayStats(): { live: number; pipesInUse: number; pipesIdle: number };
  }
}

Ring.prototype.relay = function relay(this: Ring, src: number, dst: number, options: RelayOptions = {}): Relay {
  validateFd(src, 'src');
  validateFd(dst, 'dst');
  const pipeSize = options.pipeSize ?? RELAY_PIPE_SIZE;
  validateInt(pipeSize, 'options.pipeSize', 4096, 1 << 30);
  const signal = validateSignal(options.signal);
  return new Relay(this, src, dst, pipeSize, signal);
};

Ring.prototype.relayStats = function relayStats(this: Ring) {
  const [live, pipesInUse, pipesIdle] = this.handle.relayInfo();
  return { live, pipesInUse, pipesIdle };
};
