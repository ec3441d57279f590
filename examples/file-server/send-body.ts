/**
 * Sending a byte range of an open file to a socket.
 *
 * With the runtime's net facade the body goes out through its zero-copy
 * `sendFile` (file -> pipe -> socket splices, no user-space copy). Otherwise
 * it is copied: positioned reads into fresh chunks, each written to the socket,
 * waiting for 'drain' whenever the socket asks us to (backpressure).
 */
import type { FileLike } from './file-io';
import type { SendFileFn, SocketLike } from './transport';

/** Copy-path chunk size. */
const CHUNK = 64 * 1024;

/** Thrown when the file ends before the announced range (it shrank): the connection must be dropped. */
export class ShortFileError extends Error {
  /** @param missing bytes that could not be read */
  constructor(readonly missing: number) {
    super(`file ended ${missing} bytes before the announced length`);
    this.name = 'ShortFileError';
  }
}

/**
 * Whether `err` says the file ended before the announced range: the copy
 * path's {@link ShortFileError} or the facade `sendFile`'s `ERR_FILE_TRUNCATED`.
 */
export function isShortFile(err: unknown): boolean {
  return err instanceof ShortFileError || (err as { code?: unknown } | null)?.code === 'ERR_FILE_TRUNCATED';
}

/** Thrown when a client stops reading for longer than the send timeout. */
export class SendTimeoutError extends Error {
  /** @param ms the timeout that expired */
  constructor(readonly ms: number) {
    super(`the client read nothing for ${ms} ms`);
    this.name = 'SendTimeoutError';
  }
}

/**
 * Resolve when `socket` can take more data (after 'drain'); reject if it
 * closes or errors first, or with {@link SendTimeoutError} when `timeoutMs`
 * (> 0) passes without a 'drain'.
 */
export function waitForDrain(socket: SocketLike, timeoutMs = 0): Promise<void> {
  if (socket.destroyed) return Promise.reject(new Error('socket closed'));
  return new Promise((resolve, reject) => {
    const timer = timeoutMs > 0 ? setTimeout(() => done(new SendTimeoutError(timeoutMs)), timeoutMs) : null;
    const done = (err?: Error): void => {
      if (timer) clearTimeout(timer);
      socket.removeListener('drain', onDrain);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('socket closed'));
    const onError = (e: Error): void => done(e);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}

/**
 * Write `buf`: undefined when the socket's buffer had room (nothing to wait
 * for, no Promise made), else a Promise for its 'drain' (see
 * {@link waitForDrain} for `timeoutMs`).
 */
export function writeWithBackpressure(socket: SocketLike, buf: Buffer, timeoutMs = 0): Promise<void> | undefined {
  if (socket.destroyed) return Promise.reject(new Error('socket closed'));
  return socket.write(buf) ? undefined : waitForDrain(socket, timeoutMs);
}

/** Options of {@link sendBody}. */
export interface SendBodyOptions {
  /** The transport's zero-copy transfer; without it the body is copied. */
  sendFile?: SendFileFn;
  /** Bytes to send before the body (the response head). */
  head?: Buffer;
  /**
   * Give up when the client reads nothing for this long, ms; 0 waits
   * forever. The copy path rejects with {@link SendTimeoutError}, the
   * zero-copy path with the facade's `ETIMEDOUT` error (sendFile's
   * `stallTimeout`); either way the caller destroys the socket.
   */
  stallTimeoutMs?: number;
}

/**
 * Send `head` and then bytes `[start, end]` (inclusive, like node's
 * `{ start, end }`) of `file` to `socket`. Uses `sendFile` (zero-copy) when
 * given, else positioned reads. Rejects with {@link ShortFileError} (copy
 * path) or the facade's `ERR_FILE_TRUNCATED` error if the file is shorter than
 * the range, or with the socket's error; the caller then destroys the socket.
 */
export async function sendBody(
  socket: SocketLike,
  file: FileLike,
  start: number,
  end: number,
  options: SendBodyOptions = {},
): Promise<void> {
  const { sendFile, head, stallTimeoutMs = 0 } = options;
  if (sendFile && end >= start) {
    await sendFile(socket, file, { start, end, headers: head, stallTimeout: stallTimeoutMs });
    return;
  }
  if (head) {
    // Corked: the head and the first chunk leave in one segment.
    socket.cork();
    socket.write(head);
    process.nextTick(() => socket.uncork());
  }
  if (end < start) {
    if (socket.writableNeedDrain) await waitForDrain(socket, stallTimeoutMs);
    return;
  }
  let pos = start;
  const stop = end + 1;
  while (pos < stop) {
    // A fresh chunk per write: the socket may hold the previous one until it is flushed.
    const want = Math.min(CHUNK, stop - pos);
    const chunk = Buffer.allocUnsafe(want);
    let filled = 0;
    while (filled < want) {
      const { bytesRead } = await file.read(chunk, filled, want - filled, pos + filled);
      if (bytesRead === 0) throw new ShortFileError(stop - pos - filled);
      filled += bytesRead;
    }
    pos += filled;
    await writeWithBackpressure(socket, chunk, stallTimeoutMs);
  }
}
