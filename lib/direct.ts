/**
 * O_DIRECT files: reads and writes that bypass the page cache, straight
 * between the device and registered ("fixed") buffers.
 *
 * O_DIRECT needs the buffer address, the length and the file position to be
 * aligned. The alignment comes from statx STATX_DIOALIGN (Linux 6.1) where
 * the file system reports it, else from the device's logical block size
 * (/sys/dev/block/<major>:<minor>/queue/logical_block_size, from the parent
 * device for a partition), else 4096. Misaligned arguments are refused
 * before anything reaches the kernel, with a RangeError that names the
 * argument and the alignment it needs.
 */
import { readFile, realpath } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import type { Ring, OpOptions } from './ring';
import { FixedBuffer } from './buffers';
import { checkFixedArgs, submitFixed } from './ops-fixed';
import { Op } from './opcodes';
import './ops-fixed';
import { uringError, type UringError } from './errors';
import { validateInt } from './validate';
import { adoptFd } from './owned-fds';

/** `O_DIRECT` on Linux (x86, arm64 differ: taken from node:fs). */
export const O_DIRECT: number = fsConstants.O_DIRECT ?? 0o40000;

/** Where an alignment figure came from. */
export type AlignmentSource = 'statx' | 'sysfs' | 'default';

/** What O_DIRECT requires of the I/O on one file. */
export interface DirectAlignment {
  /** Required alignment of the buffer address (bytes). */
  memory: number;
  /** Required alignment of the file position and of the length (bytes). */
  offset: number;
  /** Where the figures came from. */
  source: AlignmentSource;
}

/** The error raised for misaligned O_DIRECT arguments. */
export interface DirectAlignmentError extends RangeError {
  /** Always `'ERR_DIRECT_IO_ALIGNMENT'`. */
  code: 'ERR_DIRECT_IO_ALIGNMENT';
  /** The argument at fault: `'buffer'` (its address), `'length'` or `'position'`. */
  argument: 'buffer' | 'length' | 'position';
  /** The alignment it needed. */
  required: number;
}

/** Fallback when neither statx nor sysfs says anything. */
const DEFAULT_ALIGNMENT = 4096;

/** Logical block sizes by "major:minor", read once per device. */
const blockSizes = new Map<string, Promise<number | undefined>>();

/** Splits glibc's encoding of a device number (as Stats.dev carries it). */
function splitDev(dev: number): [number, number] {
  const hi = Math.floor(dev / 2 ** 32);
  const lo = dev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | (hi & 0xfffff000);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xffffff00);
  return [major >>> 0, minor >>> 0];
}

async function readSize(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The logical block size of the block device `major:minor` from sysfs
 * (walking to the parent device for a partition), or undefined.
 */
export function logicalBlockSize(major: number, minor: number): Promise<number | undefined> {
  const key = `${major}:${minor}`;
  let p = blockSizes.get(key);
  if (!p) {
    p = (async () => {
      const dir = `/sys/dev/block/${key}`;
      const own = await readSize(`${dir}/queue/logical_block_size`);
      if (own !== undefined) return own;
      try {
        // A partition has no queue/ of its own: its sysfs directory sits inside the disk's.
        const real = await realpath(dir);
        return await readSize(`${real}/../queue/logical_block_size`);
      } catch {
        return undefined;
      }
    })();
    blockSizes.set(key, p);
  }
  return p;
}

/** The O_DIRECT alignment for an open file. */
export async function directAlignment(ring: Ring, fd: number, options?: OpOptions): Promise<DirectAlignment> {
  const st = await ring.fstat(fd, options);
  if (st.dioMemAlign > 0 && st.dioOffsetAlign > 0) {
    return { memory: st.dioMemAlign, offset: st.dioOffsetAlign, source: 'statx' };
  }
  const [major, minor] = splitDev(st.dev);
  const lbs = major === 0 ? undefined : await logicalBlockSize(major, minor);
  if (lbs !== undefined) return { memory: lbs, offset: lbs, source: 'sysfs' };
  return { memory: DEFAULT_ALIGNMENT, offset: DEFAULT_ALIGNMENT, source: 'default' };
}

function misaligned(argument: DirectAlignmentError['argument'], required: number, detail: string,
  a: DirectAlignment): DirectAlignmentError {
  const err = new RangeError(`O_DIRECT needs ${argument === 'buffer' ? 'the buffer address' : `"${argument}"`} ` +
    `aligned to ${required} bytes (${detail}). This file requires memory alignment ${a.memory} and ` +
    `offset/length alignment ${a.offset} (from ${a.source}).`) as DirectAlignmentError;
  err.code = 'ERR_DIRECT_IO_ALIGNMENT';
  err.argument = argument;
  err.required = required;
  return err;
}

/**
 * Throws a {@link DirectAlignmentError} unless the buffer address
 * (`fb.buffer` + `offset`), `length` and `position` satisfy `a`.
 */
export function checkDirectAlignment(a: DirectAlignment, fb: FixedBuffer, offset: number, length: number,
  position: number): void {
  const addr = fb.pool.addressLow(fb.index) + offset;
  if (addr % a.memory !== 0) {
    throw misaligned('buffer', a.memory, `offset ${offset} into buffer ${fb.index} puts it at ` +
      `address % ${a.memory} = ${addr % a.memory}`, a);
  }
  if (length % a.offset !== 0) throw misaligned('length', a.offset, `got ${length}`, a);
  if (position < 0) {
    const err = new RangeError('O_DIRECT reads and writes need an explicit "position" (the file position ' +
      'is not used): pass a number aligned to ' + a.offset) as DirectAlignmentError;
    err.code = 'ERR_DIRECT_IO_ALIGNMENT';
    err.argument = 'position';
    err.required = a.offset;
    throw err;
  }
  if (position % a.offset !== 0) throw misaligned('position', a.offset, `got ${position}`, a);
}

/** Adds an explanation to EINVAL from open(O_DIRECT). */
function explainOpen(e: unknown): unknown {
  const err = e as UringError;
  if (err && err.code === 'EINVAL') {
    err.message += ': the file system refuses O_DIRECT (tmpfs before Linux 6.6, procfs, sysfs, device nodes ' +
      'and some FUSE or network file systems do not support it); put the file on a disk-backed file system ' +
      'such as ext4, xfs or btrfs';
  }
  return err;
}

/** Adds the alignment to an EINVAL the kernel returned for an O_DIRECT read/write. */
function explainIo(e: unknown, a: DirectAlignment): unknown {
  const err = e as UringError;
  if (err && err.code === 'EINVAL') {
    err.message += ` (O_DIRECT: the kernel refused the alignment; this library used memory alignment ${a.memory} ` +
      `and offset/length alignment ${a.offset} from ${a.source})`;
  }
  return err;
}

/**
 * A file opened with O_DIRECT. Reads and writes go through registered
 * buffers and are checked for alignment before they are submitted.
 */
export class DirectFile {
  /** The file descriptor (owned: closed by {@link DirectFile.close}). */
  readonly fd: number;
  /** The path it was opened with. */
  readonly path: string;
  /** What O_DIRECT requires on this file. */
  readonly alignment: DirectAlignment;
  readonly #ring: Ring;
  #closed = false;
  readonly #explain = (e: unknown): unknown => explainIo(e, this.alignment);

  /** @internal Use {@link openDirect}. */
  constructor(ring: Ring, fd: number, path: string, alignment: DirectAlignment) {
    this.#ring = ring;
    this.fd = fd;
    this.path = path;
    this.alignment = alignment;
  }

  /**
   * Reads `length` bytes at `position` into `fb.buffer[offset..]`. At the
   * end of the file the kernel returns fewer bytes (read a whole aligned
   * block; the result says how much of it is file data).
   * @throws a {@link DirectAlignmentError} for misaligned arguments.
   */
  read(fb: FixedBuffer, offset: number, length: number, position: number, options?: OpOptions): Promise<number> {
    this.#check(fb, offset, length, position);
    return submitFixed(this.#ring, Op.READ_FIXED, 'read', this.fd, fb, offset, length, position, options?.signal,
      this.#explain);
  }

  /**
   * Writes `length` bytes of `fb.buffer[offset..]` at `position`.
   * @throws a {@link DirectAlignmentError} for misaligned arguments.
   */
  write(fb: FixedBuffer, offset: number, length: number, position: number, options?: OpOptions): Promise<number> {
    this.#check(fb, offset, length, position);
    return submitFixed(this.#ring, Op.WRITE_FIXED, 'write', this.fd, fb, offset, length, position, options?.signal,
      this.#explain);
  }

  /** Closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ring.close(this.fd);
  }

  /** Same as {@link DirectFile.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(fb: FixedBuffer, offset: number, length: number, position: number): void {
    if (this.#closed) {
      const err = uringError(9, 'read', this.path);
      err.message += ' (the DirectFile was closed)';
      throw err;
    }
    validateInt(position, 'position', 0, Number.MAX_SAFE_INTEGER);
    checkFixedArgs(this.#ring, this.fd, fb, offset, length, position);
    checkDirectAlignment(this.alignment, fb, offset, length, position);
  }
}

/**
 * Opens `path` with O_DIRECT (plus `flags`, e.g. `fs.constants.O_RDWR`) and
 * finds its alignment.
 * @throws a Node-shaped error; EINVAL explains that the file system refuses O_DIRECT.
 */
export async function openDirect(ring: Ring, path: string, flags: number = fsConstants.O_RDONLY, mode = 0o666,
  options?: OpOptions): Promise<DirectFile> {
  let fd: number;
  try {
    fd = adoptFd(await ring.open(path, flags | O_DIRECT, mode, options));
  } catch (e) {
    throw explainOpen(e);
  }
  try {
    return new DirectFile(ring, fd, path, await directAlignment(ring, fd, options));
  } catch (e) {
    await ring.close(fd).catch(() => undefined);
    throw e;
  }
}
