/**
 * Whole-file reads on the ring, with node:fs/promises' algorithm: fstat,
 * one read of the whole size for a regular file (512 KiB chunks when the
 * size is large), 64 KiB reads until end of file when the size is unknown
 * (pipes, /proc files), reading from the file position as Node does.
 * @internal
 */
import { StringDecoder } from 'node:string_decoder';
import type { Ring } from '../ring';
import type { Stats } from '../stats';
import { checkAborted } from './args';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** Node's kReadFileBufferLength. */
const CHUNK = 512 * 1024;
/** Node's kReadFileUnknownBufferLength. */
const UNKNOWN_CHUNK = 64 * 1024;
/** Node's kIoMaxLength. */
const IO_MAX = 2 ** 31 - 1;

function tooLarge(size: number): RangeError {
  const err = new RangeError(`File size (${size}) is greater than 2 GiB`) as RangeError & { code: string };
  err.code = 'ERR_FS_FILE_TOO_LARGE';
  return err;
}

/**
 * Reads from the file position of `fd` to the end of the file.
 * @param st - the file's status when the caller already has it (else fstat)
 */
export async function readWholeFd(ring: Ring, fd: number, encoding: BufferEncoding | undefined,
  signal: AbortSignal | undefined, st?: Stats): Promise<Buffer | string> {
  checkAborted(signal);
  const stats = st ?? await ring.fstat(fd);
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
    const buf = Buffer.allocUnsafeSlow(size);
    const n = await ring.read(fd, buf, 0, size, -1);
    const out = n === size ? buf : buf.subarray(0, n);
    return encoding ? out.toString(encoding) : out;
  }
  if (size > 0) return readSized(ring, fd, size, encoding, signal);
  return readUnsized(ring, fd, encoding, signal);
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
      const n = await ring.read(fd, buf, 0, Math.min(CHUNK, size - total), -1);
      total += n;
      if (n === 0 || total === size) return result + decoder.end(buf.subarray(0, n));
      result += decoder.write(buf.subarray(0, n));
    }
  }
  const buf = Buffer.allocUnsafeSlow(size);
  let total = 0;
  for (;;) {
    checkAborted(signal);
    const n = await ring.read(fd, buf, total, Math.min(CHUNK, size - total), -1);
    total += n;
    if (n === 0 || total === size) return total === size ? buf : buf.subarray(0, total);
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
