/**
 * Whole-data writes on the ring, with node:fs/promises' algorithm: write at
 * the file position in pieces of at most 512 KiB, continuing after short
 * writes; iterables (sync or async) of strings or views are written item
 * by item.
 * @internal
 */
import type { Ring } from '../ring';
import { checkAborted } from './args';

/** Node's kWriteFileMaxChunkSize. */
const CHUNK = 512 * 1024;

/** Writes every byte of `data` at the file position of `fd`. */
async function writeAll(ring: Ring, fd: number, data: ArrayBufferView, signal: AbortSignal | undefined): Promise<void> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let done = 0;
  while (done < bytes.byteLength) {
    checkAborted(signal);
    done += await ring.write(fd, bytes, done, Math.min(CHUNK, bytes.byteLength - done), -1);
  }
}

/** Runs one write of a view (all its pieces), e.g. in its turn among other users of the file position. */
export type WriteTurn = (write: () => Promise<void>) => Promise<void>;

const now: WriteTurn = (write) => write();

/**
 * Writes `data` (already a view, or an iterable of strings/views) to `fd`.
 * Strings inside iterables are encoded with `encoding` (default utf8).
 * @param turn - runs the write of each view (the whole of `data`, or one
 *   item of an iterable): a FileHandle passes its position queue. Between
 *   items the iterable runs the caller's code, which may itself use the
 *   handle: holding the queue across it could wait forever.
 */
export async function writeWholeFd(ring: Ring, fd: number,
  data: ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>, encoding: BufferEncoding | undefined,
  signal: AbortSignal | undefined, turn: WriteTurn = now): Promise<void> {
  checkAborted(signal);
  if (ArrayBuffer.isView(data)) return turn(() => writeAll(ring, fd, data, signal));
  for await (const item of data as AsyncIterable<unknown>) {
    checkAborted(signal);
    const view = ArrayBuffer.isView(item) ? item : Buffer.from(item as string, encoding || 'utf8');
    await turn(() => writeAll(ring, fd, view, signal));
  }
}
