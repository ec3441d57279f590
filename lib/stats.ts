/**
 * File status from statx(2), shaped like Node's `fs.Stats`.
 */
import { Stats as NodeStats } from 'node:fs';

/** statx mask: STATX_BASIC_STATS | STATX_BTIME | STATX_DIOALIGN. @internal */
export const STATX_MASK = 0x7ff | 0x800 | 0x2000;
/** Size of struct statx. @internal */
export const STATX_SIZE = 256;

const S_IFMT = 0o170000;

function makedev(major: number, minor: number): number {
  // glibc's encoding, as Node's stat() reports st_dev.
  return (
    (major & 0xfffff000) * 2 ** 32 +
    (minor & 0xffffff00) * 2 ** 12 +
    ((major & 0xfff) << 8) +
    (minor & 0xff)
  );
}

/**
 * File metadata with the same fields and predicates as Node's `fs.Stats`,
 * plus the O_DIRECT alignment the kernel reports (`dioMemAlign`,
 * `dioOffsetAlign`, 0 where the file system does not say).
 */
export class Stats {
  /** Device containing the file. */ dev: number;
  /** Inode number. */ ino: number;
  /** File type and mode bits. */ mode: number;
  /** Number of hard links. */ nlink: number;
  /** Owner user id. */ uid: number;
  /** Owner group id. */ gid: number;
  /** Device number for special files. */ rdev: number;
  /** Size in bytes. */ size: number;
  /** Preferred I/O block size. */ blksize: number;
  /** Number of 512-byte blocks allocated. */ blocks: number;
  /** Last access, in ms since the epoch. */ atimeMs: number;
  /** Last modification, in ms since the epoch. */ mtimeMs: number;
  /** Last status change, in ms since the epoch. */ ctimeMs: number;
  /** Creation, in ms since the epoch (0 where the file system has none). */ birthtimeMs: number;
  // The Dates are own enumerable properties made up front, as in Node 20's
  // Stats: JSON.stringify and object spread keep them, and s.mtime === s.mtime.
  /** Last access time. */ atime: Date;
  /** Last modification time. */ mtime: Date;
  /** Last status change time. */ ctime: Date;
  /** Creation time (the epoch where the file system has none). */ birthtime: Date;
  /** Required alignment of memory for O_DIRECT on this file (0: unknown). */ dioMemAlign: number;
  /** Required alignment of offsets and lengths for O_DIRECT (0: unknown). */ dioOffsetAlign: number;

  /** @internal Parses a struct statx. */
  constructor(b: Buffer) {
    const mask = b.readUInt32LE(0);
    this.blksize = b.readUInt32LE(4);
    this.nlink = b.readUInt32LE(16);
    this.uid = b.readUInt32LE(20);
    this.gid = b.readUInt32LE(24);
    this.mode = b.readUInt16LE(28);
    this.ino = Number(b.readBigUInt64LE(32));
    this.size = Number(b.readBigUInt64LE(40));
    this.blocks = Number(b.readBigUInt64LE(48));
    const ts = (o: number): number => Number(b.readBigInt64LE(o)) * 1e3 + b.readUInt32LE(o + 8) / 1e6;
    this.atimeMs = ts(64);
    this.birthtimeMs = mask & 0x800 ? ts(80) : 0;
    this.ctimeMs = ts(96);
    this.mtimeMs = ts(112);
    this.rdev = makedev(b.readUInt32LE(128), b.readUInt32LE(132));
    this.dev = makedev(b.readUInt32LE(136), b.readUInt32LE(140));
    this.atime = new Date(Math.round(this.atimeMs));
    this.mtime = new Date(Math.round(this.mtimeMs));
    this.ctime = new Date(Math.round(this.ctimeMs));
    this.birthtime = new Date(Math.round(this.birthtimeMs));
    const dio = (mask & 0x2000) !== 0;
    this.dioMemAlign = dio ? b.readUInt32LE(152) : 0;
    this.dioOffsetAlign = dio ? b.readUInt32LE(156) : 0;
  }

  /** True for a regular file. */ isFile(): boolean { return (this.mode & S_IFMT) === 0o100000; }
  /** True for a directory. */ isDirectory(): boolean { return (this.mode & S_IFMT) === 0o040000; }
  /** True for a symbolic link (only from lstat). */ isSymbolicLink(): boolean { return (this.mode & S_IFMT) === 0o120000; }
  /** True for a FIFO. */ isFIFO(): boolean { return (this.mode & S_IFMT) === 0o010000; }
  /** True for a socket. */ isSocket(): boolean { return (this.mode & S_IFMT) === 0o140000; }
  /** True for a block device. */ isBlockDevice(): boolean { return (this.mode & S_IFMT) === 0o060000; }
  /** True for a character device. */ isCharacterDevice(): boolean { return (this.mode & S_IFMT) === 0o020000; }
}

// Code that checks `stats instanceof fs.Stats` (and util.inspect) sees a Node Stats;
// every field and predicate above is this class's own.
Object.setPrototypeOf(Stats.prototype, NodeStats.prototype);
