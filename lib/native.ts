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
  destroy(): void;
  info(): NativeInfo;
  probe(): Uint8Array;
  registerBuffers(count: number, size: number, alignment: number): ArrayBuffer;
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
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const load = require('node-gyp-build') as (dir: string) => unknown;

/** The addon for this thread. @internal */
export const native = load(path.join(__dirname, '..', '..')) as NativeAddon;
