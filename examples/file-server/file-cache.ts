/**
 * Open-file cache: a bounded LRU of (fd, stat, ETag) per path, so a hot small
 * file costs no open/stat/close per request.
 *
 * - Lookups resolve the path with realpath and refuse anything whose real
 *   path leaves the root (symlinks), then stat it; only regular files are
 *   opened (O_NOFOLLOW | O_NONBLOCK on the resolved path) and cached, and
 *   only once the opened descriptor is known to be a regular file inside the
 *   root (a directory on the way may have been swapped for a symlink
 *   meanwhile).
 * - An entry is trusted for `revalidateMs`; after that the next use re-runs
 *   realpath + stat and keeps the entry only if the real path, device, inode,
 *   size and mtime are unchanged (otherwise it is replaced).
 * - Entries are reference-counted: a response holds its entry until the body
 *   is sent, and an evicted entry's fd is closed only when the last holder
 *   releases it.
 * - Files up to `smallFileBytes` also keep their bytes in memory after the
 *   first full read.
 */
import { constants as fsConstants } from 'node:fs';
import { etagOf, httpDate } from './conditional';
import { openedInside } from './confine';
import type { FileLike, FileSystem, StatLike } from './file-io';
import { isInside } from './paths';

/** Cache sizing and freshness. */
export interface FileCacheOptions {
  /** Most open files kept (each holds one fd). Default 256. */
  maxEntries?: number;
  /** How long an entry is trusted before the next use re-checks it, in ms. Default 1000; 0 checks on every use. */
  revalidateMs?: number;
  /** Files up to this size keep their content in memory. Default 16384; 0 disables. */
  smallFileBytes?: number;
}

/** An open, validated regular file. Call {@link CachedFile.release} when done with it. */
export class CachedFile {
  /** Outstanding holders (the cache itself does not count). */
  private refs = 0;
  private evicted = false;
  private closed = false;
  private content: Buffer | null = null;
  /** {@link wholeResponse}'s buffers: [keep-alive, close]. */
  private readonly whole: Array<{ date: string; type: string; content: Buffer; bytes: Buffer } | null> = [null, null];
  /** Strong ETag. */
  readonly etag: string;
  /** Last-Modified value. */
  readonly lastModified: string;
  /** When this entry was last validated against the file system (ms, monotonic clock). */
  checkedAt: number;

  /** @internal */
  constructor(
    /** Symlink-free absolute path. */
    readonly realPath: string,
    /** The open file. */
    readonly handle: FileLike,
    /** fstat of the open file. */
    readonly stat: StatLike,
    now: number,
    private readonly smallFileBytes: number,
  ) {
    this.etag = etagOf(stat);
    this.lastModified = httpDate(stat.mtimeMs);
    this.checkedAt = now;
  }

  /** Size in bytes. */
  get size(): number {
    return this.stat.size;
  }

  /** Whether the fd is still open (false once evicted and released). */
  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Make the next use re-check the file (as if `revalidateMs` had passed):
   * for a body that found the file shorter than this entry says, so the
   * following requests do not announce the old length too.
   */
  markStale(): void {
    this.checkedAt = -Infinity;
  }

  /** @internal Take a reference. */
  acquire(): this {
    this.refs++;
    return this;
  }

  /** Give back a reference taken by {@link FileCache.lookup}. */
  release(): void {
    if (this.refs > 0) this.refs--;
    if (this.evicted && this.refs === 0) this.closeNow();
  }

  /** @internal Drop from the cache: closes now if unused, else on the last release. */
  evict(): void {
    this.evicted = true;
    if (this.refs === 0) this.closeNow();
  }

  /**
   * Head + content of a whole-file 200 as one buffer, for files whose content
   * is in memory (else null). Built with `serialize` (which must stamp the
   * current Date) at most once per second, per Content-Type and per
   * keep-alive value; the buffer is shared by every response sent with it
   * and never written to.
   */
  wholeResponse(type: string, keepAlive: boolean, date: string, serialize: () => Buffer): Buffer | null {
    const content = this.content;
    if (!content) return null;
    const slot = keepAlive ? 0 : 1;
    const c = this.whole[slot];
    if (c && c.date === date && c.type === type && c.content === content) return c.bytes;
    const bytes = Buffer.concat([serialize(), content]);
    this.whole[slot] = { date, type, content, bytes };
    return bytes;
  }

  /** The whole file's bytes if {@link smallContent} has already read them, else null. */
  loadedContent(): Buffer | null {
    return this.content;
  }

  /**
   * The whole file in memory when it is small enough (read once, then kept),
   * or null. A short read (file shrank) yields null.
   */
  async smallContent(): Promise<Buffer | null> {
    if (this.content) return this.content;
    if (this.size > this.smallFileBytes) return null;
    const buf = Buffer.allocUnsafe(this.size);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await this.handle.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) return null;
      off += bytesRead;
    }
    this.content = buf;
    return buf;
  }

  private closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    this.content = null;
    this.whole[0] = this.whole[1] = null;
    this.handle.close().catch(() => undefined);
  }
}

/** What a path names: a cached regular file, a directory, or nothing servable. */
export type Lookup =
  | { kind: 'file'; file: CachedFile }
  | { kind: 'directory'; realPath: string }
  | { kind: 'refused'; status: 403 | 404 };

function sameFile(a: StatLike, b: StatLike): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function statusForError(err: unknown): 403 | 404 {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM' || code === 'ELOOP' ? 403 : 404;
}

/**
 * O_NOFOLLOW: the resolved path must not have turned into a symlink.
 * O_NONBLOCK: if it has turned into a FIFO since the stat, the open must
 * return at once (the fstat after it refuses the FIFO) instead of waiting for
 * a writer that may never come, holding a worker thread and every later
 * lookup of the URL. Reads of regular files ignore the flag.
 */
const OPEN_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

/** The bounded, revalidating, reference-counted open-file cache. */
export class FileCache {
  private readonly entries = new Map<string, CachedFile>();
  private readonly inflight = new Map<string, Promise<Lookup>>();
  private readonly maxEntries: number;
  private readonly revalidateMs: number;
  private readonly smallFileBytes: number;
  private closed = false;
  /** The entry {@link touch} moved to the LRU's end last (may have been dropped since). */
  private lastTouched: CachedFile | null = null;

  /**
   * @param fs the file system to open and stat through
   * @param realRoot the served root, already resolved with realpath
   */
  constructor(private readonly fs: FileSystem, private readonly realRoot: string, options: FileCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 256);
    this.revalidateMs = Math.max(0, options.revalidateMs ?? 1000);
    this.smallFileBytes = Math.max(0, options.smallFileBytes ?? 16384);
  }

  /** Number of cached open files. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Resolve `fsPath` (a lexical path under the root). A `file` result holds a
   * reference: the caller must call `file.release()` when the response is done.
   */
  async lookup(fsPath: string): Promise<Lookup> {
    for (let attempt = 0; ; attempt++) {
      const hit = this.peek(fsPath);
      if (hit) return { kind: 'file', file: hit };
      const pending = this.inflight.get(fsPath);
      if (!pending || attempt >= 3) break;
      // Someone is already (re)validating this path: wait, then look again.
      await pending.catch(() => undefined);
    }
    const p = this.validate(fsPath);
    this.inflight.set(fsPath, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(fsPath) === p) this.inflight.delete(fsPath);
    }
  }

  /**
   * The entry for `fsPath` if it is cached and fresh (a reference the caller
   * releases), else null: then {@link lookup} is needed. Never touches the
   * file system.
   */
  peek(fsPath: string): CachedFile | null {
    const hit = this.entries.get(fsPath);
    if (!hit || performance.now() - hit.checkedAt >= this.revalidateMs) return null;
    this.touch(fsPath, hit);
    return hit.acquire();
  }

  /** Evict everything (fds close as their last holder releases them). */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) e.evict();
    this.entries.clear();
  }

  private touch(key: string, e: CachedFile): void {
    if (this.lastTouched === e) return; // already the most recently used
    this.lastTouched = e;
    this.entries.delete(key);
    this.entries.set(key, e);
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      e.evict();
    }
  }

  private async validate(fsPath: string): Promise<Lookup> {
    let real: string;
    let st: StatLike;
    try {
      real = await this.fs.realpath(fsPath);
      if (!isInside(this.realRoot, real)) {
        this.drop(fsPath);
        return { kind: 'refused', status: 403 };
      }
      st = await this.fs.stat(real);
    } catch (err) {
      this.drop(fsPath);
      return { kind: 'refused', status: statusForError(err) };
    }
    if (st.isDirectory()) {
      this.drop(fsPath);
      return { kind: 'directory', realPath: real };
    }
    if (!st.isFile()) {
      this.drop(fsPath);
      return { kind: 'refused', status: 403 };
    }
    const now = performance.now();
    const old = this.entries.get(fsPath);
    if (old && old.isOpen && old.realPath === real && sameFile(old.stat, st)) {
      old.checkedAt = now;
      this.touch(fsPath, old);
      return { kind: 'file', file: old.acquire() };
    }
    this.drop(fsPath);

    let handle: FileLike;
    try {
      handle = await this.fs.open(real, OPEN_FLAGS);
    } catch (err) {
      return { kind: 'refused', status: statusForError(err) };
    }
    let fst: StatLike;
    try {
      fst = await handle.stat();
    } catch (err) {
      await handle.close().catch(() => undefined);
      return { kind: 'refused', status: statusForError(err) };
    }
    if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) {
      // Swapped between stat and open: refuse rather than guess.
      await handle.close().catch(() => undefined);
      return { kind: 'refused', status: 404 };
    }
    // Checked once per open, not per request: the entry serves this descriptor
    // only, and revalidation keeps it only while the path still leads to it.
    if (!(await openedInside(handle.fd, this.realRoot))) {
      // A directory on the way was swapped for a symlink out of the root after realpath().
      await handle.close().catch(() => undefined);
      return { kind: 'refused', status: 403 };
    }
    const entry = new CachedFile(real, handle, fst, now, this.smallFileBytes);
    if (this.closed) {
      entry.acquire();
      entry.evict(); // closes on release
      return { kind: 'file', file: entry };
    }
    this.drop(fsPath); // a concurrent validation may have inserted meanwhile: never orphan its fd
    this.entries.set(fsPath, entry);
    this.lastTouched = entry;
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.drop(oldest);
    }
    return { kind: 'file', file: entry.acquire() };
  }
}
