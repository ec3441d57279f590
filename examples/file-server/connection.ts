/**
 * One client connection: feeds bytes to the parser, answers requests strictly
 * in order (pipelining), keeps the connection alive when allowed, and closes
 * it on a parse error, a header timeout or a failed body.
 */
import { RequestParser, type ParserLimits, type RequestHead } from './parser';
import { currentDate, serializeHead, serializeWhole, statusReply, bodyLength, type Reply } from './reply';
import type { CachedFile } from './file-cache';
import { isShortFile, sendBody, ShortFileError, writeWithBackpressure } from './send-body';
import type { SendFileFn, SocketLike } from './transport';

/** One line of the access log. */
export interface AccessLogEntry {
  method: string;
  target: string;
  status: number;
  /** Body bytes announced (0 for HEAD and 304). */
  bytes: number;
  /** The Content-Range sent, for 206 and 416 answers. */
  range?: string;
  remoteAddress?: string;
}

/** What a connection needs from its server. */
export interface ConnectionContext {
  limits: ParserLimits;
  /** Time allowed from waiting for a request until its head is complete, ms. */
  headerTimeoutMs: number;
  /** Drop a client that reads nothing of a response for this long, ms (0: never). */
  sendTimeoutMs: number;
  /** The reply for `req`; synchronous when everything it needs is cached. */
  handle(req: RequestHead): Reply | Promise<Reply>;
  sendFile?: SendFileFn;
  /** Bodies smaller than this are copied even when `sendFile` is available. */
  zeroCopyMinBytes: number;
  log?: (entry: AccessLogEntry) => void;
}

/** Ranges up to this size are read and written in one piece with the head. */
const SMALL_RANGE = 16 * 1024;

/**
 * Received bytes held by the parser while a response is being written beyond
 * which the socket is paused (backpressure on a client that pipelines without
 * reading). Below it the socket keeps flowing, so a request costs no
 * pause()/resume() pair.
 */
const PAUSE_BYTES = 64 * 1024;

/** How long a closing socket may wait for the client's FIN before it is destroyed, ms. */
const LINGER_MS = 2000;

/**
 * Destroy `socket` if it has not closed within {@link LINGER_MS} (after our
 * end(), a client that never closes would otherwise hold it forever).
 */
export function lingerThenDestroy(socket: SocketLike): void {
  const t = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once('close', () => clearTimeout(t));
}

/** Serves requests on one socket until either side closes. */
export class Connection {
  private readonly parser: RequestParser;
  private busy = false;
  private done = false;
  private readEnded = false;
  /** Paused by us because too much arrived while busy (see {@link PAUSE_BYTES}). */
  private paused = false;
  /**
   * The header timer. It is armed once and not moved per request: it fires at
   * most one timeout after it was set, then measures from {@link waitSince}
   * and re-arms itself for what is left (one timer operation per timeout
   * period instead of a clearTimeout + setTimeout per request).
   */
  private timer: NodeJS.Timeout | null = null;
  /** Whether we are waiting for a request head (the header timeout runs). */
  private waiting = false;
  /** When the current wait began (performance.now()). */
  private waitSince = 0;

  /** Start serving `socket`. */
  constructor(private readonly socket: SocketLike, private readonly ctx: ConnectionContext) {
    this.parser = new RequestParser(ctx.limits);
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.done) return; // draining after our end(): discard
      this.parser.push(chunk);
      if (!this.busy) void this.pump();
      else if (!this.paused && this.parser.buffered > PAUSE_BYTES) {
        this.paused = true;
        this.socket.pause();
      }
    });
    socket.on('end', () => {
      this.readEnded = true;
      void this.pump();
    });
    socket.on('error', () => this.destroy());
    socket.on('close', () => {
      this.done = true;
      this.clearTimer();
    });
    this.armTimer();
  }

  /** Drop the connection now. */
  destroy(): void {
    this.done = true;
    this.clearTimer();
    this.socket.destroy();
  }

  /**
   * Wait for a request head: the header timeout runs from now, unless a wait
   * is already running (bytes of an incomplete head do not restart it: a
   * client sending one byte at a time is still timed out).
   */
  private armTimer(): void {
    if (this.ctx.headerTimeoutMs <= 0 || this.done) return;
    if (!this.waiting) {
      this.waiting = true;
      this.waitSince = performance.now();
    }
    if (!this.timer) this.timer = setTimeout(this.onTimeout, this.ctx.headerTimeoutMs);
  }

  private clearTimer(): void {
    this.waiting = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onTimeout = (): void => {
    this.timer = null;
    // Busy: the pump re-arms when it is done.
    if (this.busy || this.done || !this.waiting) return;
    const left = this.ctx.headerTimeoutMs - (performance.now() - this.waitSince);
    if (left >= 1) {
      // The wait began after this timer was set: the rest of it.
      this.timer = setTimeout(this.onTimeout, Math.ceil(left));
      return;
    }
    if (this.parser.buffered === 0) {
      // Idle keep-alive connection: just close it.
      this.finish();
      return;
    }
    const reply = statusReply(408, [], true);
    this.socket.write(serializeWhole(reply, false));
    this.finish();
  };

  /**
   * Close after everything written so far has been flushed. Reading goes on
   * (discarding) so the client's FIN is seen and the socket is released; a
   * client that never closes its side is dropped after the linger time.
   */
  private finish(): void {
    this.done = true;
    this.clearTimer();
    this.socket.end();
    this.socket.resume();
    lingerThenDestroy(this.socket);
  }

  /**
   * Answer every complete request that is buffered, one after another. A
   * request whose reply and body are at hand (a cached small file, a status
   * reply) and whose bytes the socket takes at once is answered without
   * awaiting anything.
   */
  private async pump(): Promise<void> {
    if (this.busy || this.done) return;
    this.busy = true;
    try {
      while (!this.done) {
        const r = this.parser.next();
        if (r.kind === 'need-more') {
          if (this.readEnded) this.finish(); // the client stopped sending: no request will complete
          break;
        }
        this.waiting = false;
        if (r.kind === 'error') {
          const reply = statusReply(r.status, [], true);
          const w = this.write({ method: '-', target: '-' }, reply, false, false);
          if (w) await w;
          this.finish();
          break;
        }
        const req = r.request;
        let reply: Reply;
        try {
          const h = this.ctx.handle(req);
          reply = h instanceof Promise ? await h : h;
        } catch {
          reply = statusReply(500, [], true);
        }
        const keepAlive = req.keepAlive && !reply.close;
        const w = this.write(req, reply, req.method === 'HEAD', keepAlive);
        if (w) await w;
        if (!keepAlive) {
          this.finish();
          break;
        }
        // A half-closed client still gets answers to every complete request it sent.
      }
    } catch {
      this.destroy();
    } finally {
      this.busy = false;
    }
    if (!this.done) {
      if (this.paused) {
        this.paused = false;
        this.socket.resume();
      }
      this.armTimer();
    }
  }

  /** Write `buf`: a Promise only when the socket asks to wait (bounded by the send timeout). */
  private send(buf: Buffer): Promise<void> | undefined {
    return writeWithBackpressure(this.socket, buf, this.ctx.sendTimeoutMs);
  }

  /**
   * Write head and body; releases the reply's file reference once written.
   * Returns a Promise only when something has to be waited for.
   */
  private write(
    req: Pick<RequestHead, 'method' | 'target'>,
    reply: Reply,
    headOnly: boolean,
    keepAlive: boolean,
  ): Promise<void> | undefined {
    const body = reply.body;
    let pending: Promise<void> | undefined;
    try {
      this.ctx.log?.({
        method: req.method,
        target: req.target,
        status: reply.status,
        bytes: headOnly || reply.status === 304 ? 0 : bodyLength(body),
        remoteAddress: this.socket.remoteAddress,
        range: reply.headers.find(([k]) => k === 'Content-Range')?.[1],
      });
      const whole =
        reply.wholeFileType !== undefined && !headOnly && body.kind === 'file'
          ? body.file.wholeResponse(reply.wholeFileType, keepAlive, currentDate(), () => serializeHead(reply, keepAlive))
          : null;
      if (whole) {
        pending = this.send(whole);
      } else if (headOnly || body.kind === 'none') {
        pending = this.send(serializeHead(reply, keepAlive));
      } else if (body.kind === 'bytes') {
        pending = this.send(Buffer.concat([serializeHead(reply, keepAlive), body.data]));
      } else {
        pending = this.writeFileBody(serializeHead(reply, keepAlive), body.file, body.start, body.end);
      }
    } catch (e) {
      if (body.kind === 'file') body.file.release();
      throw e;
    }
    if (body.kind !== 'file') return pending;
    if (!pending) {
      body.file.release();
      return undefined;
    }
    const file = body.file;
    return pending.then(
      () => file.release(),
      (err: unknown) => {
        // The file shrank since its entry was validated: without this, every request until
        // revalidateMs passes would announce the old length and be cut the same way.
        if (isShortFile(err)) file.markStale();
        file.release();
        throw err;
      },
    );
  }

  /**
   * Head + file range. Small files come from the cache's memory copy and small
   * ranges are read into the head's buffer (one write); larger bodies go
   * through {@link sendBody} (zero-copy when the transport can).
   */
  private writeFileBody(head: Buffer, file: CachedFile, start: number, end: number): Promise<void> | undefined {
    const small = start === 0 && end === file.size - 1 ? file.loadedContent() : null;
    if (small) return this.send(Buffer.concat([head, small]));
    return this.writeFileBodySlow(head, file, start, end);
  }

  private async writeFileBodySlow(head: Buffer, file: CachedFile, start: number, end: number): Promise<void> {
    const whole = start === 0 && end === file.size - 1;
    const small = whole ? await file.smallContent() : null;
    if (small) {
      const w = this.send(Buffer.concat([head, small]));
      if (w) await w;
      return;
    }
    const len = end - start + 1;
    if (len <= SMALL_RANGE) {
      const buf = Buffer.allocUnsafe(head.length + len);
      head.copy(buf, 0);
      let off = 0;
      while (off < len) {
        const { bytesRead } = await file.handle.read(buf, head.length + off, len - off, start + off);
        if (bytesRead === 0) throw new ShortFileError(len - off);
        off += bytesRead;
      }
      await this.send(buf);
      return;
    }
    const sendFile = len >= this.ctx.zeroCopyMinBytes ? this.ctx.sendFile : undefined;
    await sendBody(this.socket, file.handle, start, end, { sendFile, head, stallTimeoutMs: this.ctx.sendTimeoutMs });
  }
}
