/**
 * The ring the net facade runs on: one per thread, separate from
 * Ring.forThread() because every open connection keeps one multishot recv
 * in flight and the Ring admits at most as many operations in flight as its
 * completion queue has entries. This ring has the largest CQ (65,536
 * entries), so a thread can hold tens of thousands of connections; beyond
 * that, new operations wait in the Ring's backlog.
 * @internal
 */
import { Ring } from '../ring';

let ring: Ring | undefined;

/** The calling thread's networking ring, created on first use. @internal */
export function netRing(): Ring {
  if (!ring || ring.destroyed) ring = new Ring({ entries: 4096, cqEntries: 65536 });
  return ring;
}
