/**
 * One direction of a proxied connection as a {@link Relay} (lib/ops-relay.ts):
 * the addon polls the source on the ring and splices socket -> pipe ->
 * socket itself, in C, right where it reads the completion. Same
 * readiness scheme as ready-pump.ts, without a JavaScript call per chunk;
 * pipes come from the ring's relay pool and are held only while bytes are
 * inside them. This is the proxy's default pump; `--pump copy` runs the
 * same relay in copy mode (recv/send through buffers: not zero-copy) and
 * `--pump auto` in auto mode (small reads copied, bulk spliced).
 */
import type { Ring } from '../../lib/ring';
import '../../lib/ops-relay';
import type { RelayMode } from '../../lib/ops-relay';
import type { PumpResult } from './splice-pump';

/** A running direction: its result, and the bytes moved so far (for the idle timeout). */
export interface RelayDirection {
  done: Promise<PumpResult>;
  bytes(): number;
}

/**
 * Starts relaying `src` -> `dst`: through pipes of `pipeSize` bytes, or
 * (`mode` 'copy', the proxy's `--pump copy`) through the ring's relay
 * buffers, which copies the payload through user-space memory, or (`mode`
 * 'auto') copying small reads and splicing bulk. Never throws.
 */
export function relayPump(ring: Ring, src: number, dst: number, pipeSize: number, mode: RelayMode = 'splice'):
  RelayDirection {
  let relay;
  try {
    relay = ring.relay(src, dst, { pipeSize, mode });
  } catch (e) {
    // The ring is gone or an fd is unusable: this direction fails; the connection closes both sockets.
    return { done: Promise.resolve({ bytes: 0, splicedBytes: 0, reason: 'error', error: e as NodeJS.ErrnoException }), bytes: () => 0 };
  }
  const r = relay;
  return {
    done: r.done.then((res) => ({
      bytes: res.bytes, splicedBytes: res.bytes - res.copiedBytes, reason: res.eof ? 'eof' : 'error', error: res.error,
      failedEnd: res.failedEnd,
    })),
    bytes: () => r.bytes,
  };
}
