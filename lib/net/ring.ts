/**
 * The ring the net facade runs on: the thread's shared ring
 * (Ring.forThread()). Socket operations that wait on a peer (multishot
 * recv, send, accept, connect, poll) are not counted against a Ring's
 * in-flight cap, so thousands of idle or blocked connections never hold
 * back the operations that would unblock them (4,000 in-process
 * connections echoing 1 MiB each finished on the default CQ of 2,048; before
 * sends were uncapped the same run stalled there for good).
 * @internal
 */
import { Ring } from '../ring';

/** The calling thread's networking ring (the shared per-thread ring). @internal */
export function netRing(): Ring {
  return Ring.forThread();
}

/**
 * node:net's ref()/unref() for one long-lived operation on a ring (a server's
 * multishot accept, a socket's multishot recv): while unref() holds and the
 * operation is armed, the ring counts it as not keeping the event loop alive.
 * @internal
 */
export class LoopRef {
  /** unref() is in force (ref() undoes it). */
  #unref = false;
  /** The ring currently counts the operation as unref'd. */
  #counted = false;

  constructor(private readonly ring: Ring) {}

  /** ref() (`unref` false) or unref() (true); `armed`: whether the operation is in flight now. */
  set(unref: boolean, armed: boolean): void {
    this.#unref = unref;
    this.sync(armed);
  }

  /** Call whenever the operation is armed or has ended. */
  sync(armed: boolean): void {
    const want = this.#unref && armed;
    if (want === this.#counted) return;
    try {
      this.ring.handle.adjustUnref(want ? 1 : -1);
      this.#counted = want;
    } catch {
      this.#counted = false; // the ring is gone, and its count with it
    }
  }
}
