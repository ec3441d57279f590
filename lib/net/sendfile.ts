/**
 * sendFile: file -> pooled pipe -> socket with splice, so file bytes never
 * enter user space. Two ways to run the splices (`options.mode`):
 *
 * - `'ready'` (default): the file -> pipe half is a plain splice(2) on this
 *   thread when cachestat(2) says the range is in the page cache, else an
 *   IORING_OP_SPLICE (io-wq: a disk read never blocks the event loop); the
 *   pipe -> socket half is a non-blocking splice(2), and when the socket is
 *   full the ring waits for POLLOUT. No io-wq hand-off for cached files.
 * - `'linked'` (sendfile-linked.ts): described below; every splice runs in an io-wq worker.
 *
 * Linked mode:
 * Each round splices up to one pipe's capacity from the file into a pipe
 * from the thread's pool and, linked (IOSQE_IO_LINK), from the pipe into
 * the socket. A short first half cuts the chain (the second half completes
 * with -ECANCELED): whatever sits in the pipe is then drained into the
 * socket before the next round, so partial transfers simply resume. A file
 * that ends early (truncated during the transfer) stops the loop with an
 * `ERR_FILE_TRUNCATED` error that carries the bytes sent so far; the pipe
 * goes back to the pool only when it is empty, else it is closed.
 *
 * Headers given in `options.headers` are sent first with MSG_MORE, so the
 * kernel coalesces them with the first body segment (nginx's tcp_nopush).
 */
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Ring } from '../ring';
import { netRing } from './ring';
import '../ops-net';
import { MsgFlag } from '../ops-net';
import { abortError, invalidArgType, uringError } from '../errors';
import { pipePool, type PipePool } from '../pipes';
import { native } from '../native';
import { validateFd, validateInt, validateSignal } from '../validate';
import { Socket, kBorrowFd, kReturnFd } from './socket';
import { truncatedError, type FileTruncatedError } from './sendfile-common';
import { transferLinked } from './sendfile-linked';
import { transferReady } from './sendfile-ready';

export type { FileTruncatedError };

/** Options for {@link sendFile}. */
export interface SendFileOptions {
  /** First byte of the file to send (default 0). */
  start?: number;
  /** Last byte to send, inclusive as in fs.createReadStream (default: end of file). */
  end?: number;
  /** Bytes to send before the body, coalesced with its first segment (MSG_MORE). */
  headers?: Uint8Array;
  /** Ring to use (default: the socket's thread ring). */
  ring?: Ring;
  /** Pipe pool to take the pipe from (default: the thread's pool). */
  pipes?: PipePool;
  /**
   * How the splices run (default `'ready'`, see the module notes): `'ready'`
   * splices on this thread when that cannot block (cached file, socket
   * ready), `'linked'` submits linked IORING_OP_SPLICE pairs (io-wq).
   */
  mode?: 'ready' | 'linked';
  /**
   * Aborts the transfer: the promise rejects with an AbortError and the pipe
   * is returned (or closed if bytes are left in it). Part of the body may
   * already be on the wire, so the caller should destroy the connection.
   */
  signal?: AbortSignal;
}

/** A socket, as the net facade or node:net hands it out, or a raw socket fd. */
export type SendFileTarget = Socket | NodeJS.WritableStream | number;

function fdOf(file: unknown): number {
  if (typeof file === 'number') {
    validateFd(file, 'file');
    return file;
  }
  const fd = (file as { fd?: unknown } | null)?.fd;
  if (typeof fd !== 'number') throw invalidArgType('file', 'a file descriptor or a FileHandle', file);
  return fd;
}

/**
 * Sends bytes [start, end] of a file to a socket without copying them
 * through user space. Resolves with the body bytes sent. Writes queued on
 * the socket before the call go out first.
 *
 * @param socket - a Socket from this facade (or a connected socket fd); a
 *   node:net socket (the fallback backend) gets a plain stream copy instead
 * @param file - a file descriptor or a FileHandle (anything with `.fd`)
 * @throws `ERR_FILE_TRUNCATED` (with `bytesSent`) when the file ends early;
 *   Node-shaped errors (EPIPE, ECONNRESET) when the peer goes away
 */
export async function sendFile(socket: SendFileTarget, file: number | { fd: number }, options: SendFileOptions = {}):
  Promise<number> {
  const fileFd = fdOf(file);
  const start = options.start ?? 0;
  validateInt(start, 'options.start', 0, Number.MAX_SAFE_INTEGER);
  if (options.end !== undefined) validateInt(options.end, 'options.end', 0, Number.MAX_SAFE_INTEGER);
  if (options.mode !== undefined && options.mode !== 'ready' && options.mode !== 'linked') {
    throw invalidArgType('options.mode', "'ready' or 'linked'", options.mode);
  }
  const signal = validateSignal(options.signal);
  if (signal?.aborted) throw abortError(signal);
  if (typeof socket !== 'number' && !(socket instanceof Socket)) return streamCopy(socket, fileFd, start, options);

  const ring = options.ring ?? netRing();
  if (typeof socket === 'number') {
    validateFd(socket, 'socket');
    return transfer(ring, socket, fileFd, start, options);
  }
  // Let queued writes go first: an empty write's callback runs after them.
  if (socket.writableLength > 0 || socket.connecting) {
    await new Promise<void>((res, rej) => socket.write(Buffer.alloc(0), (e) => (e ? rej(e) : res())));
  }
  const sockFd = socket[kBorrowFd]();
  if (sockFd < 0) throw uringError(32 /* EPIPE */, 'sendfile');
  try {
    return await transfer(ring, sockFd, fileFd, start, options);
  } finally {
    socket[kReturnFd]();
  }
}

async function transfer(ring: Ring, sockFd: number, fileFd: number, start: number, options: SendFileOptions):
  Promise<number> {
  const endPos = options.end !== undefined ? options.end + 1 : (await ring.fstat(fileFd)).size;
  if (options.headers && options.headers.byteLength > 0) {
    const h = options.headers;
    // Ready mode: try a non-blocking send(2) first (saves a loop turn); the ring sends what remains.
    let off = options.mode === 'linked' ? 0 : Math.max(0, native.sendNow(sockFd, h, 0, h.byteLength,
      endPos > start ? MsgFlag.MORE : 0));
    while (off < h.byteLength) {
      off += await ring.send(sockFd, h, off, h.byteLength - off, { flags: endPos > start ? MsgFlag.MORE : 0,
        signal: options.signal });
    }
  }
  const pool = options.pipes ?? pipePool();
  const signal = options.signal;
  if (options.mode !== 'linked' && endPos > start) return transferReady(ring, sockFd, fileFd, start, endPos, pool, signal);
  return transferLinked(ring, sockFd, fileFd, start, endPos, pool, signal);
}

/** The node:net fallback: a plain stream copy (headers first). */
async function streamCopy(socket: NodeJS.WritableStream, fd: number, start: number, options: SendFileOptions):
  Promise<number> {
  if (options.headers && options.headers.byteLength > 0) {
    await new Promise<void>((res, rej) => socket.write(options.headers!, (e) => (e ? rej(e) : res())));
  }
  let sent = 0;
  const rs = fs.createReadStream('', { fd, start, end: options.end, autoClose: false });
  rs.on('data', (c) => (sent += c.length));
  await pipeline(rs, socket, { end: false, signal: options.signal });
  if (options.end !== undefined && sent < options.end + 1 - start) {
    throw truncatedError(start + sent, options.end + 1, sent);
  }
  return sent;
}
