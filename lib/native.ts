/**
 * The compiled addon, loaded once per thread (the addon is context-aware:
 * each worker_thread gets its own instance and its own rings).
 * @internal
 */
import * as path from 'node:path';

/** Bytes the kernel may read or write. @internal */
export type Bytes = ArrayBufferView | ArrayBuffer;

/** Ring facts reported by the addon. @internal */
export interface NativeInfo {
  fd: number;
  sqEntries: number;
  cqEntries: number;
  setupFlags: number;
  features: number;
  inflight: number;
  pending: number;
  cqOverflow: number;
  enters: number;
}

/** The addon's per-ring object. @internal */
export interface NativeRing {
  prep(buf1?: Bytes, buf2?: Bytes, buf3?: Bytes): boolean;
  submit(): number;
  reserve(count: number): boolean;
  wait(timeoutMs: number): number;
  cancelAll(): number;
  cancelFdSync(fd: number): number;
  adjustUnref(delta: number): number;
  destroy(): void;
  info(): NativeInfo;
  probe(): Uint8Array;
  registerBuffers(count: number, size: number, alignment: number): ArrayBuffer;
  // relay_handle.cc
  relayStart(src: number, dst: number, pipeSize: number, mode: number): number;
  relayStop(id: number): void;
  relayBytes(id: number): number;
  relayEnd(id: number): [bytes: number, failure: number, copied: number];
  relayInfo(): [live: number, pipesInUse: number, pipesIdle: number, bufferWaits: number, bufferTrims: number,
    buffersHeld: number];
  unregisterBuffers(): void;
}

/** The addon's exports. @internal */
export interface NativeAddon {
  RingHandle: new (
    sqEntries: number,
    cqEntries: number,
    record: Float64Array,
    completions: Int32Array,
    onComplete: (count: number, base: number) => void,
    allowDeferTaskrun: boolean,
  ) => NativeRing;
  fillIovecs(target: Bytes, buffers: readonly Bytes[]): number;
  addressOf(buffer: Bytes): bigint;
  makePipe(size: number): [number, number, number];
  pendingBytes(fd: number): number;
  closeFd(fd: number): void;
  // owned_fds.cc
  adoptFd(fd: number): void;
  releaseFd(fd: number): boolean;
  adoptedFds(): number;
  /**
   * `own`: the Unix socket file just bound at `path` is removed when this environment is torn down (if
   * still there); returns its inode, which names it (-1: gone already). `!own`: no longer, for the file
   * `inode`; with `unlink`, it is removed now if it is still that file.
   */
  ownSocketPath(path: string, own: true): number;
  ownSocketPath(path: string, own: false, inode: number, unlink: boolean): void;
  spliceNow(fdIn: number, fdOut: number, len: number, more?: boolean, offIn?: number): number;
  cachedRange(fd: number, offset: number, length: number): number;
  fadvise(fd: number, offset: number, length: number, advice: number): void;
  // bigbuf.cc
  recycledBuffer(length: number): Buffer | undefined;
  recycledTrim(maxIdleMs: number): [idle: number, inUse: number, parked: number];
  recycledMinBytes: number;
  // sockets.cc
  encodeSockaddr(host: string, port: number): Buffer | null;
  decodeSockaddr(bytes: Bytes): NativeSockAddr | undefined;
  socketSync(domain: number, type: number, protocol: number): number;
  bind(fd: number, sockaddr: Bytes): void;
  listen(fd: number, backlog: number): void;
  setsockopt(fd: number, level: number, name: number, value: number): void;
  getsockopt(fd: number, level: number, name: number): number;
  sendQueueBytes(fd: number): number;
  setNonBlocking(fd: number, on?: boolean): boolean;
  shutdownSync(fd: number, how: number): void;
  sendNow(fd: number, bytes: Bytes, offset: number, length: number, flags: number): number;
  /**
   * At TCP's urgent mark (where splice(2) stops: non-blocking, EAGAIN, or 0 with the peer's FIN queued; blocking,
   * 0 whenever anything is queued behind the mark), one non-blocking recv(2) into `bytes` (pass one byte), which
   * passes the mark: the urgent byte is dropped (out of band without SO_OOBINLINE) and the normal bytes after it
   * are returned.
   * @returns bytes received (> 0), 0 at end of stream, -1: not at the mark (no urgent data, or past it), or -2:
   *   at the mark, nothing after it yet (not the end; once the urgent byte has come, the mark is now passed)
   * @throws a Node-shaped error with `syscall` 'ioctl' (SIOCATMARK; e.g. ENOTTY: not TCP) or 'recv'
   */
  recvAtMark(fd: number, bytes: Bytes): number;
  getsockname(fd: number): NativeSockAddr;
  getpeername(fd: number): NativeSockAddr;
  socketConstants: Readonly<Record<string, number>>;
  // pbuf.cc
  PbufRing: new (ring: NativeRing, bgid: number, count: number, size: number, incremental: boolean) => NativePbufRing;
}

/** A socket address as the addon reports it. @internal */
export interface NativeSockAddr {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** A provided-buffer ring registered with one ring (pbuf.cc). @internal */
export interface NativePbufRing {
  /** The buffers: buffer `bid` is bytes [bid * size, (bid + 1) * size). */
  readonly memory: ArrayBuffer;
  /** Whether the kernel accepted IOU_PBUF_RING_INC. */
  readonly incremental: boolean;
  readonly count: number;
  readonly size: number;
  readonly bgid: number;
  /** Hands buffers back to the kernel (one release store of the tail). */
  recycle(...bids: number[]): void;
  /** Stops the kernel picking from this ring. */
  unregister(): void;
  /** Buffers the kernel can still pick, or -1 if unknown. */
  available(): number;
}

/**
 * The addon built by `npm install` is loaded directly; node-gyp-build (which
 * searches prebuilds and build directories) only when it is not there.
 * `URING_ADDON=/path/to/uring.node` loads that build instead (the sanitizer
 * run, test/sanitize.js, points it at its ASan/UBSan build).
 */
function loadAddon(root: string): NativeAddon {
  const override = process.env.URING_ADDON;
  if (override) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.resolve(override)) as NativeAddon;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(`${root}/build/Release/uring.node`) as NativeAddon;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('node-gyp-build') as (dir: string) => NativeAddon)(root);
}

/** The addon for this thread. @internal */
export const native = loadAddon(path.join(__dirname, '..', '..'));
