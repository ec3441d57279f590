/**
 * The ring the net facade runs on: one per thread, separate from
 * Ring.forThread(). Multishot recvs no longer count against a Ring's
 * in-flight cap, so idle connections would fit on the default ring (10,000
 * connections with a multishot recv each ran there without a lost CQE), but
 * sends still do, and the Ring's backlog is one FIFO: once more sends than
 * the cap are blocked on peers that stopped reading, the recv re-arms and
 * sends that would unblock them wait behind them for good. On the default
 * ring (CQ 2,048) 4,000 in-process connections echoing 1 MiB each stalled
 * that way; on this ring (CQ 65,536, the largest) the same run finished.
 * @internal
 */
import { Ring } from '../ring';

let ring: Ring | undefined;

/** The calling thread's networking ring, created on first use. @internal */
export function netRing(): Ring {
  if (!ring || ring.destroyed) ring = new Ring({ entries: 4096, cqEntries: 65536 });
  return ring;
}
