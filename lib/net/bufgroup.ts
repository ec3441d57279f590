/**
 * The provided-buffer ring of a Ring: one pool of receive buffers shared by
 * every connection on that ring (IORING_REGISTER_PBUF_RING, Linux 5.19).
 *
 * A multishot recv names the group; the kernel picks a free buffer for each
 * chunk it delivers and reports its id in the CQE. The consumer reads the
 * bytes and hands the id back with {@link BufferGroup.recycle}. While the
 * consumer holds a buffer, the kernel cannot use it: a consumer that keeps
 * buffers starves every connection of the ring (their multishot recv ends
 * with ENOBUFS and must be re-armed), so the net facade copies each chunk out
 * and recycles at once.
 *
 * Buffer size decides large-message throughput: each CQE carries at most
 * one buffer, so small buffers multiply completions and sends. The default
 * of 64 KiB was measured (bench/RESULTS.md, "Net facade").
 * @internal
 */
import { uringError } from '../errors';
import { native, type NativePbufRing } from '../native';
import type { Ring } from '../ring';

/** The provided-buffer group id of copy relays (native/uring/relay_bufs.h kRelayBgid); not for other groups. */
export const RELAY_BGID = 0xff00;

/** Options for {@link bufferGroup}. */
export interface BufferGroupOptions {
  /** Buffers in the ring; a power of two (default 256). */
  count?: number;
  /** Bytes per buffer (default 64 KiB). */
  size?: number;
  /** Ask for incrementally consumed buffers (IOU_PBUF_RING_INC, 6.12). Default false. */
  incremental?: boolean;
}

/** The addon's error (errno, syscall) made Node-shaped, with what to do about it. */
function groupError(e: unknown, count: number, size: number, bgid: number): unknown {
  const { errno, syscall } = e as { errno?: number; syscall?: string };
  if (typeof errno !== 'number') return e; // a RangeError about the arguments
  const err = uringError(-errno, syscall ?? 'io_uring_register');
  if (syscall === 'mmap') {
    err.message += `: could not map ${count} x ${size} bytes for buffer group ${bgid}; free memory, raise the ` +
      'address-space limit (`ulimit -v`) or ask for fewer or smaller buffers';
  } else if (err.code === 'EEXIST') {
    err.message += `: buffer group ${bgid} is already registered on this ring; close it first or pick another id`;
  }
  return err;
}

/** A registered buffer ring and the views over it. @internal */
export class BufferGroup {
  readonly #native: NativePbufRing;
  readonly #bytes: Uint8Array;
  /** Buffer group id the recv SQEs name (sqe.buf_group). */
  readonly bgid: number;
  /** Bytes per buffer. */
  readonly size: number;
  /** Number of buffers. */
  readonly count: number;
  /** Whether the kernel consumes buffers incrementally. */
  readonly incremental: boolean;

  /**
   * @throws RangeError for the group id copy relays use (0xff00, see lib/ops-relay.ts) or one outside 0..65535.
   */
  constructor(ring: Ring, bgid: number, options: BufferGroupOptions = {}) {
    if (bgid === RELAY_BGID) {
      throw new RangeError(`bgid ${RELAY_BGID} (0xff00) is reserved for the ring's copy relays: choose another group id`);
    }
    this.count = options.count ?? 256;
    this.size = options.size ?? 64 * 1024;
    try {
      this.#native = new native.PbufRing(ring.handle, bgid, this.count, this.size, options.incremental === true);
    } catch (e) {
      throw groupError(e, this.count, this.size, bgid);
    }
    this.#bytes = new Uint8Array(this.#native.memory);
    this.bgid = bgid;
    this.incremental = this.#native.incremental;
  }

  /**
   * A view of `length` bytes of buffer `bid` starting at `offset`. The view
   * stays valid memory forever, but its content changes once the buffer is
   * recycled.
   */
  view(bid: number, offset: number, length: number): Buffer {
    return Buffer.from(this.#bytes.buffer, bid * this.size + offset, length);
  }

  /** Copies `length` bytes of buffer `bid` out into a new Buffer. */
  copy(bid: number, offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const start = bid * this.size + offset;
    out.set(this.#bytes.subarray(start, start + length));
    return out;
  }

  /** Hands buffer `bid` back to the kernel. */
  recycle(bid: number): void {
    this.#native.recycle(bid);
  }

  /** Buffers the kernel can pick right now (-1 if the kernel cannot say). */
  available(): number {
    return this.#native.available();
  }

  /** Unregisters the ring; memory stays valid while views exist. */
  close(): void {
    this.#native.unregister();
  }
}

const groups = new WeakMap<Ring, BufferGroup>();
/** Buffer group id used for the shared group (any 16-bit value not used by others on the ring). */
const SHARED_BGID = 0x4e45;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * The shared buffer group of `ring`, registered on first use. Sizes can be
 * tuned with URING_NET_BUF_SIZE / URING_NET_BUF_COUNT (for measurement).
 * @internal
 */
export function bufferGroup(ring: Ring): BufferGroup {
  let g = groups.get(ring);
  if (!g) {
    g = new BufferGroup(ring, SHARED_BGID, {
      size: envInt('URING_NET_BUF_SIZE'),
      count: envInt('URING_NET_BUF_COUNT'),
    });
    groups.set(ring, g);
  }
  return g;
}
