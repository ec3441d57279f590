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
 * Node-API can only hand out such memory as an "untransferable" ArrayBuffer:
 * Node 20 copies it when it is listed in postMessage's transfer list (the
 * sender keeps its copy), but Node 21 and later throw DataCloneError there,
 * where a node:fs result moves. So recycling is used on Node 20 and earlier
 * only; later versions allocate as Node does. A result shorter than its
 * chunk (the file shrank during the read) has the rest of the chunk zeroed,
 * so `buf.buffer` shows nothing of an earlier result.
 * @internal
 */
import { native } from '../native';

/** Whether recycled results keep node:fs's behaviour in postMessage (see above). */
export const RECYCLING = Number(process.versions.node.split('.')[0]) <= 20;

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

/** Bytes of recycled chunks: idle, in use, and parked for good (tests, diagnostics). */
export function recycledBytes(): { idle: number; inUse: number; parked: number } {
  const [idle, inUse, parked] = native.recycledTrim(Number.MAX_SAFE_INTEGER); // trims nothing
  return { idle, inUse, parked };
}

/** `buf` cut to the `n` bytes a read filled; the rest of its memory is zeroed. */
export function shortResult(buf: Buffer, n: number): Buffer {
  buf.fill(0, n);
  return buf.subarray(0, n);
}

/** A Buffer of `size` bytes with unspecified contents, recycled when large. */
export function resultBuffer(size: number): Buffer {
  if (!RECYCLING || size < native.recycledMinBytes) return Buffer.allocUnsafeSlow(size);
  const buf = native.recycledBuffer(size);
  if (!buf) return Buffer.allocUnsafeSlow(size); // above the largest class, or no memory: the normal way
  scheduleTrim(IDLE_MS);
  return buf;
}
