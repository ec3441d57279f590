/**
 * sendFile: file -> pooled pipe -> socket with splice, so file bytes never
 * enter user space. Two ways to run the splices (`options.mode`):
 *
 * - `'ready'` (default): the file -> pipe half is a plain splice(2) on this
 *   thread when cachestat(2) says the range is in the page cache, else an
 *   IORING_OP_SPLICE (io-wq: a disk read never blocks the event loop); the
 *   pipe -> socket half is a non-blocking splice(2), and when the socket is
 *   full the ring waits for POLLOUT. No io-wq hand-off for cached files.
 *   The socket must be O_NONBLOCK for that: a socket the facade made is left
 *   so afterwards, any other fd gets its previous mode back.
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
 *
 * `options.stallTimeout` (sendfile-stall.ts) bounds how long a peer may take
 * nothing: one AbortSignal stands for it and the caller's `signal`, and the
 * transfers report their progress to it.
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
import { Socket, kBorrowFd, kLeaveNonBlocking, kReturnFd } from './socket';
import { truncatedError, type FileTruncatedError } from './sendfile-common';
import { StallWatch, type SendFileTimeoutError } from './sendfile-stall';
import { transferLinked } from './sendfile-linked';
import { transferReady } from './sendfile-ready';

export type { FileTruncatedError, SendFileTimeoutError };

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
  /**
   * Gives up when no byte of the transfer moves for this many ms (integer,
   * default 0: never): nothing written into the socket and nothing taken
   * from it by the peer (its send queue unchanged). The promise then rejects
   * with an `ETIMEDOUT` {@link SendFileTimeoutError} carrying `bytesSent`;
   * the pipe is returned or closed, the file is left open, and the socket is
   * left to the caller, who should destroy it (part of the body is out).
   * Every movement restarts the timer. The send queue is sampled four times
   * per timeout, so a stall is noticed 1 to 1.25 timeouts after the last
   * movement (a peer's kernel may take bytes for a while after its
   * application stopped reading). The timeout also bounds the wait for
   * writes queued on the socket before the call and for the headers.
   * On the node:net fallback it counts only the bytes node:net hands to the
   * kernel, which a slow reader frees in bursts of about a third of the
   * socket's send buffer: choose a timeout well above the time such a burst
   * takes. A timeout there destroys the socket (stream.pipeline does).
   */
  stallTimeout?: number;
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
 *   `ETIMEDOUT` (with `bytesSent`) when `options.stallTimeout` runs out;
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
  const stallTimeout = options.stallTimeout ?? 0;
  validateInt(stallTimeout, 'options.stallTimeout', 0, 0x7fffffff); // setTimeout's limit
  const signal = validateSignal(options.signal);
  if (signal?.aborted) throw abortError(signal);
  if (typeof socket === 'number') validateFd(socket, 'socket');
  const watch = new StallWatch(stallTimeout, signal);
  try {
    if (typeof socket !== 'number' && !(socket instanceof Socket)) {
      return await streamCopy(socket, fileFd, start, options, watch);
    }
    const ring = options.ring ?? netRing();
    if (typeof socket === 'number') return await transfer(ring, socket, fileFd, start, options, watch);
    watch.watch(socket.fd);
    // Let queued writes go first: an empty write's callback runs after them.
    if (socket.writableLength > 0 || socket.connecting) await written(socket, Buffer.alloc(0), watch.signal);
    const sockFd = socket[kBorrowFd]();
    if (sockFd < 0) throw uringError(32 /* EPIPE */, 'sendfile');
    try {
      return await transfer(ring, sockFd, fileFd, start, options, watch, socket[kLeaveNonBlocking]);
    } finally {
      socket[kReturnFd]();
    }
  } catch (e) {
    throw watch.error(e);
  } finally {
    watch.dispose();
  }
}

/** `socket.write(bytes)`, settled by its callback, or rejected as soon as `signal` fires. */
function written(socket: NodeJS.WritableStream, bytes: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((res, rej) => {
    const onAbort = (): void => rej(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.write(bytes, (e) => {
      signal?.removeEventListener('abort', onAbort);
      if (e) rej(e);
      else res();
    });
  });
}

/**
 * The transfer on a socket fd. With `leaveNonBlocking` (a socket the facade
 * made) a 'ready' transfer leaves O_NONBLOCK set for the next response on the
 * connection, saving an fcntl(2) pair; a plain or adopted fd gets its mode back.
 */
async function transfer(ring: Ring, sockFd: number, fileFd: number, start: number, options: SendFileOptions,
  watch: StallWatch, leaveNonBlocking = false): Promise<number> {
  watch.watch(sockFd);
  const signal = watch.signal;
  const endPos = options.end !== undefined ? options.end + 1 : (await ring.fstat(fileFd)).size;
  if (options.headers && options.headers.byteLength > 0) {
    const h = options.headers;
    // Ready mode: try a non-blocking send(2) first (saves a loop turn); the ring sends what remains.
    let off = options.mode === 'linked' ? 0 : Math.max(0, native.sendNow(sockFd, h, 0, h.byteLength,
      endPos > start ? MsgFlag.MORE : 0));
    while (off < h.byteLength) {
      off += await ring.send(sockFd, h, off, h.byteLength - off, { flags: endPos > start ? MsgFlag.MORE : 0, signal });
      watch.progress(0);
    }
  }
  const pool = options.pipes ?? pipePool();
  if (options.mode !== 'linked' && endPos > start) {
    return transferReady(ring, sockFd, fileFd, start, endPos, pool, watch, leaveNonBlocking);
  }
  return transferLinked(ring, sockFd, fileFd, start, endPos, pool, watch);
}

/** File operations for the fallback's read stream: reads, and a close that leaves the fd open. */
const keepOpen = {
  read: fs.read,
  close: (_fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => cb(null),
};

/** The node:net fallback: a plain stream copy (headers first). */
async function streamCopy(socket: NodeJS.WritableStream, fd: number, start: number, options: SendFileOptions,
  watch: StallWatch): Promise<number> {
  if (options.headers && options.headers.byteLength > 0) await written(socket, options.headers, watch.signal);
  let sent = 0;
  // The stream closes its fd when destroyed (pipeline destroys it on an error or an abort), autoClose
  // or not: the caller's file stays open only if its close does nothing.
  const rs = fs.createReadStream('', { fd, start, end: options.end, autoClose: false, fs: keepOpen });
  rs.on('data', (c) => watch.progress((sent += c.length)));
  await pipeline(rs, socket, { end: false, signal: watch.signal });
  if (options.end !== undefined && sent < options.end + 1 - start) {
    throw truncatedError(start + sent, options.end + 1, sent);
  }
  return sent;
}
