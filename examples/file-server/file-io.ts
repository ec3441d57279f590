/**
 * The file-system calls the server makes, behind a small interface so the
 * same code runs on the runtime's `fs` facade (io_uring) or on
 * `node:fs/promises`.
 *
 * Opening and reading files goes through the chosen layer; `realpath` and
 * `readdir` (metadata only, off the hot path thanks to the open-file cache)
 * come from `node:fs/promises` when the facade lacks them.
 */
import * as nodeFs from 'node:fs/promises';

/** The parts of a stat result the server uses (node:fs `Stats` and the runtime's `Stats` both fit). */
export interface StatLike {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

/** An open file: node:fs/promises `FileHandle` and the runtime's `FileHandle` both fit. */
export interface FileLike {
  /** The numeric file descriptor. */
  readonly fd: number;
  /** Positioned read into `buffer[offset, offset + length)` from file offset `position`. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** fstat. */
  stat(): Promise<StatLike>;
  /** Close the descriptor. */
  close(): Promise<void>;
}

/** A directory entry as `readdir(path, { withFileTypes: true })` returns it. */
export interface DirEntryLike {
  name: string;
  isDirectory(): boolean;
}

/** File-system operations used by the server. */
export interface FileSystem {
  /** `'uring'` for the runtime's facade, `'node'` for node:fs/promises. */
  readonly name: 'uring' | 'node';
  open(path: string, flags: number): Promise<FileLike>;
  stat(path: string): Promise<StatLike>;
  realpath(path: string): Promise<string>;
  readdir(path: string): Promise<DirEntryLike[]>;
}

/** The shape of the runtime's fs facade that we rely on (checked at load time). */
interface FsFacade {
  open(path: string, flags: number): Promise<FileLike>;
  stat(path: string): Promise<StatLike>;
}

function isFsFacade(m: unknown): m is FsFacade {
  const o = m as Partial<FsFacade> | null;
  return !!o && typeof o.open === 'function' && typeof o.stat === 'function';
}

/** node:fs/promises as a {@link FileSystem}. */
export const nodeFileSystem: FileSystem = {
  name: 'node',
  open: (p, flags) => nodeFs.open(p, flags) as Promise<FileLike>,
  stat: (p) => nodeFs.stat(p),
  realpath: (p) => nodeFs.realpath(p),
  readdir: (p) => nodeFs.readdir(p, { withFileTypes: true }),
};

/**
 * The runtime's fs facade (`lib/fs`) when it exists in this build, else
 * `node:fs/promises`. Pass `prefer: 'node'` to force the latter.
 */
export function loadFileSystem(prefer: 'auto' | 'node' = 'auto'): FileSystem {
  if (prefer === 'node') return nodeFileSystem;
  let facade: unknown;
  try {
    // Resolved at run time: lib/fs.ts is written in parallel and may be absent.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    facade = require('../../lib/fs');
  } catch {
    return nodeFileSystem;
  }
  if (!isFsFacade(facade)) return nodeFileSystem;
  const f = facade;
  const g = facade as { realpath?: (p: string) => Promise<string> };
  return {
    name: 'uring',
    open: (p, flags) => f.open(p, flags),
    stat: (p) => f.stat(p),
    realpath: typeof g.realpath === 'function' ? (p) => g.realpath!(p) : nodeFileSystem.realpath,
    readdir: nodeFileSystem.readdir,
  };
}
