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
