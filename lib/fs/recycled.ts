/**
 * Result buffers for whole-file reads, from the addon's recycled chunks
 * (native/uring/bigbuf.cc) when they are large.
 *
 * A fresh 1 MiB Buffer costs 256 page faults and the kernel's zeroing of
 * every page before the read's copy even starts, then an unmap when V8 frees
 * it; for cached files that is about as much work as the copy. Recycled
 * chunks were used by earlier results that V8 has since released, so their
 * pages are already there. Idle chunks are given back to the system after
 * {@link IDLE_MS} without use (an unref'd timer: it never keeps the process
 * alive), and at most 256 MiB are ever kept idle.
 *
 * Differences from `Buffer.allocUnsafeSlow`, both also true of Node's own
 * pooled Buffers: bytes past what the read filled are unspecified, and
 * listing the ArrayBuffer in postMessage's transfer list copies it instead of
 * moving it.
 * @internal
 */
import { native } from '../native';

/** Idle chunks older than this are unmapped, ms. */
export const IDLE_MS = 1000;

let trimTimer: NodeJS.Timeout | undefined;

/**
 * Unmaps chunks idle for IDLE_MS; runs again while any are idle, and less
 * often while chunks are only in use (their Buffers may be released later).
 */
function trim(): void {
  trimTimer = undefined;
  const [idle, inUse] = native.recycledTrim(IDLE_MS);
  if (idle > 0) scheduleTrim(IDLE_MS);
  else if (inUse > 0) scheduleTrim(10 * IDLE_MS);
}

function scheduleTrim(ms: number): void {
  if (trimTimer) return;
  trimTimer = setTimeout(trim, ms);
  trimTimer.unref();
}

/** Bytes of recycled chunks idle and in use (tests, diagnostics). */
export function recycledBytes(): { idle: number; inUse: number } {
  const [idle, inUse] = native.recycledTrim(Number.MAX_SAFE_INTEGER); // trims nothing
  return { idle, inUse };
}

/** A Buffer of `size` bytes with unspecified contents, recycled when large. */
export function resultBuffer(size: number): Buffer {
  if (size < native.recycledMinBytes) return Buffer.allocUnsafeSlow(size);
  const buf = native.recycledBuffer(size);
  if (!buf) return Buffer.allocUnsafeSlow(size); // above the largest class, or no memory: the normal way
  scheduleTrim(IDLE_MS);
  return buf;
}
