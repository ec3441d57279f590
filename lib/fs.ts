/**
 * A node:fs/promises-shaped file API on io_uring.
 *
 * Same functions, arguments, results and errors as `node:fs/promises` for
 * the subset below; every operation goes through the thread's ring
 * ({@link Ring.forThread}), so many file operations started in one turn of
 * the event loop reach the kernel with one system call, and none of them
 * queues for libuv's four-thread pool.
 *
 * Where io_uring has no opcode (readdir, access, stat with `bigint`) the
 * function says so and uses node:fs/promises. When io_uring cannot be used
 * at all (or `URING_BACKEND=node` is set), the whole module runs on
 * node:fs/promises and warns once (code `URING_FALLBACK`); {@link backend}
 * tells which is in use.
 *
 * @example
 * ```ts
 * import { fs } from 'uring-node';
 * const text = await fs.readFile('/etc/hostname', 'utf8');
 * await using fh = await fs.open('/tmp/out', 'w');
 * await fh.write('hello\n');
 * ```
 */
import * as nfs from 'node:fs/promises';
import { constants as fsConstants, type BigIntStats, type Dirent, type Stats as NodeStats } from 'node:fs';
import type { Ring } from './ring';
import { toPath } from './validate';
import { backendName, ringOrNode, type BackendName } from './fs/backend';
import { stringToFlags, parseFileMode, type OpenMode } from './fs/flags';
import { checkSignal, encodingOf, getOptions, invalidData, isCustomIterable, validateBoolean } from './fs/args';
import { FileHandle, type ReadFileOptions, type WriteData, type WriteFileOptions } from './fs/file-handle';
import { readWholeFd } from './fs/read-file';
import { writeWholeFd } from './fs/write-file';
import { mkdirRecursive } from './fs/mkdirp';
import { copyFileRing } from './fs/copy-file';
import { invalidArgType, outOfRange } from './errors';
import { adoptFd } from './owned-fds';

export { FileHandle };
export type {
  FileReadResult, FileWriteResult, ReadVResult, WriteVResult, FileReadOptions, ReadFileOptions, WriteFileOptions,
  WriteData,
} from './fs/file-handle';
export type { BackendName } from './fs/backend';
export type { OpenMode } from './fs/flags';

/**
 * File status as {@link stat}, {@link lstat} and {@link FileHandle.stat}
 * return it: the fields and predicates of Node's `fs.Stats`. On the io_uring
 * backend the object is this library's `Stats` (lib/stats.ts, from statx, with
 * `dioMemAlign`/`dioOffsetAlign` as well); on the node backend it is Node's own.
 */
export type FileStats = Pick<NodeStats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' |
  'blksize' | 'blocks' | 'atimeMs' | 'mtimeMs' | 'ctimeMs' | 'birthtimeMs' | 'atime' | 'mtime' | 'ctime' |
  'birthtime' | 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isSocket' | 'isBlockDevice' |
  'isCharacterDevice'>;

/** A path as node:fs takes it. */
export type PathLike = string | Buffer | URL;

/** File-system constants (`O_*`, `S_*`, `F_OK`..., `COPYFILE_*`), as node:fs exports them. */
export const constants: typeof fsConstants = fsConstants;

/**
 * Which backend carries this module: `'io_uring'`, or `'node'` after a
 * fallback. Reading it decides the backend if no operation has yet. It is a
 * getter on the module object: from ES modules read it as `fs.backend`
 * (`import { fs } from 'uring-node'`) or call {@link getBackend}; a named
 * `import { backend } from 'uring-node/fs'` cannot see it.
 */
export declare const backend: BackendName;
Object.defineProperty(exports, 'backend', { enumerable: true, get: backendName });

/** Same as {@link backend}, as a function (for ES module named imports). */
export function getBackend(): BackendName {
  return backendName();
}

/** Closes `fh` after `op` settles; an operation error wins over a close error (Node's handleFdClose). */
async function withClose<T>(fh: FileHandle, op: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await op();
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
  await fh.close();
  return result;
}

/** Same for a raw fd on the ring. */
async function withCloseFd<T>(ring: Ring, fd: number, op: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await op();
  } catch (e) {
    await ring.close(fd).catch(() => undefined);
    throw e;
  }
  await ring.close(fd);
  return result;
}

/**
 * Opens a file (openat(2) on the ring) and resolves with a {@link FileHandle}.
 * @param flags - `'r'` (default), `'r+'`, `'rs+'`, `'w'`, `'wx'`, `'w+'`, `'wx+'`, `'a'`, `'ax'`, `'a+'`,
 *   `'ax+'` (and Node's other spellings), or numeric `O_*` bits
 * @param mode - permission bits for a created file (default 0o666, before the umask); a number or octal string
 */
export async function open(path: PathLike, flags?: OpenMode | null, mode?: number | string | null): Promise<FileHandle> {
  const ring = ringOrNode();
  if (!ring) return new FileHandle(-1, undefined, await nfs.open(path, flags ?? undefined, mode ?? undefined));
  const [p] = toPath(path);
  const f = stringToFlags(flags);
  const m = parseFileMode(mode, 'mode', 0o666);
  return new FileHandle(adoptFd(await ring.open(p, f, m)), ring);
}

function nodeHandleOf<T>(p: T): T {
  return (p instanceof FileHandle ? p.nodeHandle : p) as T;
}

/**
 * Reads a whole file: `path` (opened with `flag`, default 'r') or an open
 * {@link FileHandle} (read from its file position). With an encoding
 * resolves with a string. `{ signal }` aborts between reads.
 */
export function readFile(path: PathLike | FileHandle, options?: ReadFileOptions & { encoding?: null } | null):
  Promise<Buffer>;
export function readFile(path: PathLike | FileHandle, options: ReadFileOptions & { encoding: BufferEncoding } |
  BufferEncoding): Promise<string>;
export function readFile(path: PathLike | FileHandle, options?: ReadFileOptions | BufferEncoding | null):
  Promise<Buffer | string>;
export async function readFile(path: PathLike | FileHandle, options?: ReadFileOptions | BufferEncoding | null):
  Promise<Buffer | string> {
  const ring = ringOrNode();
  if (!ring) return nfs.readFile(nodeHandleOf(path) as PathLike, options as ReadFileOptions);
  const o = getOptions(options, { flag: 'r' } as ReadFileOptions);
  const flags = stringToFlags(o.flag || 'r');
  if (path instanceof FileHandle) return path.readFile(o);
  const signal = checkSignal(o.signal);
  const [p] = toPath(path);
  const enc = encodingOf(o);
  const fd = adoptFd(await ring.open(p, flags, 0o666));
  return withCloseFd(ring, fd, () => readWholeFd(ring, fd, enc, signal, true));
}

/**
 * Writes `data` (string, view, or an iterable / async iterable of them) to
 * a file, replacing it (flag 'w' by default), or to an open
 * {@link FileHandle} at its file position. Short writes are continued.
 */
export async function writeFile(path: PathLike | FileHandle, data: WriteData,
  options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
  const ring = ringOrNode();
  if (!ring) return nfs.writeFile(nodeHandleOf(path) as PathLike, data as never, options as WriteFileOptions);
  const o = getOptions(options, { encoding: 'utf8', mode: 0o666, flag: 'w', flush: false } as WriteFileOptions);
  return writeWith(ring, path, data, o, o.flag || 'w');
}

/**
 * Appends `data` to a file (flag 'a' by default, creating it), or writes it
 * to an open {@link FileHandle}. Same options as {@link writeFile}.
 */
export async function appendFile(path: PathLike | FileHandle, data: WriteData,
  options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
  const ring = ringOrNode();
  if (!ring) return nfs.appendFile(nodeHandleOf(path) as PathLike, data as never, options as WriteFileOptions);
  const o = getOptions(options, { encoding: 'utf8', mode: 0o666, flag: 'a', flush: false } as WriteFileOptions);
  return writeWith(ring, path, data, o, o.flag || 'a');
}

async function writeWith(ring: Ring, path: PathLike | FileHandle, data: WriteData,
  o: WriteFileOptions, flag: string | number): Promise<void> {
  const flush = o.flush ?? false;
  validateBoolean(flush, 'options.flush');
  const enc = encodingOf(o) ?? 'utf8';
  let bytes: ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>;
  if (ArrayBuffer.isView(data) || isCustomIterable(data)) bytes = data;
  else if (typeof data === 'string') bytes = Buffer.from(data, enc);
  else throw invalidData('data', data);
  const signal = checkSignal(o.signal);
  if (path instanceof FileHandle) return path.writeFile(bytes as WriteData, { encoding: enc, signal });
  const [p] = toPath(path);
  const flags = stringToFlags(flag);
  const mode = parseFileMode(o.mode, 'mode', 0o666);
  const fd = adoptFd(await ring.open(p, flags, mode));
  return withCloseFd(ring, fd, async () => {
    await writeWholeFd(ring, fd, bytes, enc, signal);
    if (flush) await ring.fsync(fd);
  });
}

/**
 * File status, following symbolic links (statx(2) on the ring).
 * `{ bigint: true }` is answered by node:fs/promises (libuv's thread pool).
 */
export function stat(path: PathLike, options?: { bigint?: false }): Promise<FileStats>;
export function stat(path: PathLike, options: { bigint: true }): Promise<BigIntStats>;
export async function stat(path: PathLike, options?: { bigint?: boolean }): Promise<FileStats | BigIntStats> {
  const ring = ringOrNode();
  if (!ring || options?.bigint) return nfs.stat(path, options as { bigint: true });
  return ring.stat(path);
}

/**
 * Status of a symbolic link itself (statx(2) with AT_SYMLINK_NOFOLLOW).
 * `{ bigint: true }` is answered by node:fs/promises (libuv's thread pool).
 */
export function lstat(path: PathLike, options?: { bigint?: false }): Promise<FileStats>;
export function lstat(path: PathLike, options: { bigint: true }): Promise<BigIntStats>;
export async function lstat(path: PathLike, options?: { bigint?: boolean }): Promise<FileStats | BigIntStats> {
  const ring = ringOrNode();
  if (!ring || options?.bigint) return nfs.lstat(path, options as { bigint: true });
  return ring.lstat(path);
}

/**
 * Checks that the file exists and that the process may access it with
 * `mode` (F_OK default, R_OK, W_OK, X_OK). io_uring has no faccessat
 * opcode: this runs node:fs/promises' access (libuv's thread pool).
 */
export async function access(path: PathLike, mode?: number): Promise<void> {
  return nfs.access(path, mode);
}

/** Removes a file (unlinkat(2) on the ring). */
export async function unlink(path: PathLike): Promise<void> {
  const ring = ringOrNode();
  if (!ring) return nfs.unlink(path);
  return ring.unlink(path);
}

/** Renames `oldPath` to `newPath`, replacing it (renameat(2) on the ring). */
export async function rename(oldPath: PathLike, newPath: PathLike): Promise<void> {
  const ring = ringOrNode();
  if (!ring) return nfs.rename(oldPath, newPath);
  return ring.rename(oldPath, newPath);
}

/** Options of {@link mkdir}. */
export interface MakeDirectoryOptions {
  /** Create missing parents too; resolves with the first directory created. */
  recursive?: boolean;
  /** Permission bits (default 0o777, before the umask). */
  mode?: number | string;
}

/**
 * Creates a directory (mkdirat(2) on the ring). With `recursive`, creates
 * missing parents and resolves with the first directory created, or
 * undefined if it already existed (as Node does).
 */
export async function mkdir(path: PathLike, options?: MakeDirectoryOptions | number | string | null):
  Promise<string | undefined> {
  const ring = ringOrNode();
  if (!ring) return nfs.mkdir(path, options as MakeDirectoryOptions);
  const o: MakeDirectoryOptions = typeof options === 'number' || typeof options === 'string'
    ? { mode: options } : (options ?? {});
  const [p] = toPath(path);
  const recursive = o.recursive ?? false;
  validateBoolean(recursive, 'options.recursive');
  const mode = parseFileMode(o.mode, 'mode', 0o777);
  if (recursive) return mkdirRecursive(ring, p, mode);
  await ring.mkdir(p, mode);
  return undefined;
}

/**
 * Removes an empty directory (unlinkat(2) with AT_REMOVEDIR on the ring).
 * The deprecated `{ recursive: true }` is passed to node:fs/promises.
 */
export async function rmdir(path: PathLike, options?: { recursive?: boolean; maxRetries?: number;
  retryDelay?: number }): Promise<void> {
  const ring = ringOrNode();
  if (!ring) return nfs.rmdir(path, options);
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalidArgType('options', 'of type object', options);
  }
  if (options?.recursive) return nfs.rmdir(path, options);
  return ring.rmdir(path);
}

/**
 * Lists a directory. io_uring has no getdents opcode: this runs
 * node:fs/promises' readdir (libuv's thread pool), with all its options
 * (`encoding`, `withFileTypes`, `recursive`).
 */
export function readdir(path: PathLike, options?: { encoding?: BufferEncoding | null; withFileTypes?: false;
  recursive?: boolean } | BufferEncoding | null): Promise<string[]>;
export function readdir(path: PathLike, options: { encoding: 'buffer'; withFileTypes?: false; recursive?: boolean } |
  'buffer'): Promise<Buffer[]>;
export function readdir(path: PathLike, options: { encoding?: BufferEncoding | null; withFileTypes: true;
  recursive?: boolean }): Promise<Dirent[]>;
export async function readdir(path: PathLike, options?: unknown): Promise<string[] | Buffer[] | Dirent[]> {
  return nfs.readdir(path, options as { withFileTypes: true });
}

/**
 * Copies `src` to `dest`. `mode` (default 0; null counts as 0, as in Node)
 * may hold COPYFILE_EXCL (fail with EEXIST
 * if `dest` exists) and COPYFILE_FICLONE (accepted; a plain copy is made).
 * COPYFILE_FICLONE_FORCE needs the FICLONE ioctl, which io_uring lacks: it
 * runs node:fs/promises' copyFile. The destination gets the source's
 * permission bits. A failure never removes a destination that existed
 * before the call.
 */
export async function copyFile(src: PathLike, dest: PathLike, mode: number | null = 0): Promise<void> {
  const ring = ringOrNode();
  mode ??= 0;
  if (!ring) return nfs.copyFile(src, dest, mode);
  const [s] = toPath(src, 'src');
  const [d] = toPath(dest, 'dest');
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 7) {
    if (typeof mode !== 'number') throw outOfRange('mode', 'an integer', mode);
    const err = new RangeError('mode is out of range: >= 0 && <= 7') as RangeError & { code: string };
    err.code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
  if ((mode & fsConstants.COPYFILE_FICLONE_FORCE) !== 0) return nfs.copyFile(src, dest, mode);
  return copyFileRing(ring, s, d, mode);
}

/**
 * Truncates (or extends with zeros) the file at `path` to `len` bytes: open
 * 'r+' on the ring, then IORING_OP_FTRUNCATE (Linux 6.9+; on older kernels
 * the ftruncate itself runs in libuv's thread pool).
 */
export async function truncate(path: PathLike, len = 0): Promise<void> {
  const fh = await open(path, 'r+');
  return withClose(fh, () => fh.truncate(len));
}
