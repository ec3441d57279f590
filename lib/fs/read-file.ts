/**
 * Whole-file reads on the ring, with node:fs/promises' algorithm: fstat,
 * one read of the whole size for a regular file (512 KiB chunks when the
 * size is large), 64 KiB reads until end of file when the size is unknown
 * (pipes, /proc files), reading from the file position as Node does.
 * @internal
 */
import { StringDecoder } from 'node:string_decoder';
import type { Ring } from '../ring';
import { checkAborted } from './args';
import { readSized as readAt } from './read-async';
import { resultBuffer, shortResult } from './recycled';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** Node's kReadFileBufferLength. */
const CHUNK = 512 * 1024;
/** Node's kReadFileUnknownBufferLength. */
const UNKNOWN_CHUNK = 64 * 1024;
/** Piece size for parallel reads of a fresh fd. */
const PIECE = 512 * 1024;
/** Largest file read with all pieces in flight at once (larger ones go chunk by chunk). */
const PARALLEL_MAX = 64 << 20;
/** Node's kIoMaxLength. */
const IO_MAX = 2 ** 31 - 1;

function tooLarge(size: number): RangeError {
  const err = new RangeError(`File size (${size}) is greater than 2 GiB`) as RangeError & { code: string };
  err.code = 'ERR_FS_FILE_TOO_LARGE';
  return err;
}

/**
 * Reads from the file position of `fd` to the end of the file.
 * @param fresh - `fd` was just opened by the caller and nobody else uses it:
 *   its position is 0, so a large file may be read in pieces at explicit
 *   offsets, all in flight at once (io-wq copies them on several CPUs)
 */
export async function readWholeFd(ring: Ring, fd: number, encoding: BufferEncoding | undefined,
  signal: AbortSignal | undefined, fresh = false): Promise<Buffer | string> {
  checkAborted(signal);
  const stats = await ring.fstat(fd);
  checkAborted(signal);
  let size = 0;
  let length = 0;
  if ((stats.mode & S_IFMT) === S_IFREG) {
    size = stats.size;
    length = encoding ? Math.min(size, CHUNK) : size;
  }
  if (length === 0) length = UNKNOWN_CHUNK;
  if (size > IO_MAX) throw tooLarge(size);

  if (size > 0 && size <= CHUNK) {
    // The common case: one read of the whole file; a short read is its end.
    const buf = resultBuffer(size);
    const n = await readAt(ring, fd, buf, 0, size, -1);
    const out = n === size ? buf : shortResult(buf, n);
    return encoding ? out.toString(encoding) : out;
  }
  if (size > 0 && fresh && size <= PARALLEL_MAX) {
    const out = await readPieces(ring, fd, size);
    // Node checks the signal before each 512 KiB read; the pieces were all in
    // flight at once, so a signal that fired meanwhile is honoured here.
    checkAborted(signal);
    return encoding ? out.toString(encoding) : out;
  }
  if (size > 0) return readSized(ring, fd, size, encoding, signal);
  return readUnsized(ring, fd, encoding, signal);
}

/**
 * A freshly opened regular file: every piece in flight at once, at explicit
 * offsets. A short piece marks the end of the file (it shrank meanwhile).
 */
async function readPieces(ring: Ring, fd: number, size: number): Promise<Buffer> {
  const buf = resultBuffer(size);
  const reads: Promise<number>[] = [];
  for (let off = 0; off < size; off += PIECE) reads.push(readAt(ring, fd, buf, off, Math.min(PIECE, size - off), off));
  const got = await Promise.all(reads);
  let total = 0;
  for (let k = 0; k < got.length; k++) {
    total += got[k]!;
    if (got[k]! < Math.min(PIECE, size - k * PIECE)) break;
  }
  return total === size ? buf : shortResult(buf, total);
}

/** A regular file larger than one chunk: read `size` bytes in 512 KiB pieces. */
async function readSized(ring: Ring, fd: number, size: number, encoding: BufferEncoding | undefined,
  signal: AbortSignal | undefined): Promise<Buffer | string> {
  if (encoding) {
    // Decode chunk by chunk, as Node does, so no full-size buffer is held.
    const decoder = new StringDecoder(encoding);
    const buf = Buffer.allocUnsafeSlow(CHUNK);
    let total = 0;
    let result = '';
    for (;;) {
      checkAborted(signal);
      const n = await readAt(ring, fd, buf, 0, Math.min(CHUNK, size - total), -1);
      total += n;
      if (n === 0 || total === size) return result + decoder.end(buf.subarray(0, n));
      result += decoder.write(buf.subarray(0, n));
    }
  }
  const buf = resultBuffer(size);
  let total = 0;
  for (;;) {
    checkAborted(signal);
    const n = await readAt(ring, fd, buf, total, Math.min(CHUNK, size - total), -1);
    total += n;
    if (n === 0 || total === size) return total === size ? buf : shortResult(buf, total);
  }
}

/** Size unknown (not a regular file, or empty): 64 KiB reads until end of file. */
async function readUnsized(ring: Ring, fd: number, encoding: BufferEncoding | undefined,
  signal: AbortSignal | undefined): Promise<Buffer | string> {
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    checkAborted(signal);
    const buf = Buffer.allocUnsafeSlow(UNKNOWN_CHUNK);
    const n = await ring.read(fd, buf, 0, UNKNOWN_CHUNK, -1);
    if (n === 0) break;
    total += n;
    if (total > IO_MAX) throw tooLarge(total);
    parts.push(n === UNKNOWN_CHUNK ? buf : buf.subarray(0, n));
  }
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  return encoding ? out.toString(encoding) : out;
}
