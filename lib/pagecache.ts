/**
 * What the page cache holds of a file (cachestat(2), native/uring/pagecache.cc).
 */
import { native } from './native';

/**
 * Whether every page of `[position, position + length)` of the file `fd` is
 * in the page cache right now (cachestat(2), Linux 6.5; no I/O). Returns
 * false when the kernel cannot tell. The answer can go stale at once (memory
 * pressure may evict pages), so it is a hint for choosing a fast path, never
 * a guarantee.
 */
export function isCached(fd: number, position: number, length: number): boolean {
  return native.cachedRange(fd, position, length) === 1;
}
