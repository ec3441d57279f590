/**
 * One client connection: feeds bytes to the parser, answers requests strictly
 * in order (pipelining), keeps the connection alive when allowed, and closes
 * it on a parse error, a header timeout or a failed body.
 */
import { RequestParser, type ParserLimits, type RequestHead } from './parser';
import { serializeHead, serializeWhole, statusReply, bodyLength, type Reply } from './reply';
import type { CachedFile } from './file-cache';
import { sendBody, ShortFileError, writeWithBackpressure } from './send-body';
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
  handle(req: RequestHead): Promise<Reply>;
  sendFile?: SendFileFn;
  /** Bodies smaller than this are copied even when `sendFile` is available. */
  zeroCopyMinBytes: number;
  log?: (entry: AccessLogEntry) => void;
}

/** Ranges up to this size are read and written in one piece with the head. */
const SMALL_RANGE = 16 * 1024;

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
  private timer: NodeJS.Timeout | null = null;

  /** Start serving `socket`. */
  constructor(private readonly socket: SocketLike, private readonly ctx: ConnectionContext) {
    this.parser = new RequestParser(ctx.limits);
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.done) return; // draining after our end(): discard
      this.parser.push(chunk);
      void this.pump();
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

  private armTimer(): void {
    this.clearTimer();
    if (this.ctx.headerTimeoutMs <= 0 || this.done) return;
    this.timer = setTimeout(() => this.onTimeout(), this.ctx.headerTimeoutMs);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.busy || this.done) return;
    if (this.parser.buffered === 0) {
      // Idle keep-alive connection: just close it.
      this.finish();
      return;
    }
    const reply = statusReply(408, [], true);
    this.socket.write(serializeWhole(reply, false));
    this.finish();
  }

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

  /** Answer every complete request that is buffered, one after another. */
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
        this.clearTimer();
        this.socket.pause();
        if (r.kind === 'error') {
          const reply = statusReply(r.status, [], true);
          await this.write({ method: '-', target: '-' }, reply, false, false);
          this.finish();
          break;
        }
        const req = r.request;
        let reply: Reply;
        try {
          reply = await this.ctx.handle(req);
        } catch {
          reply = statusReply(500, [], true);
        }
        const keepAlive = req.keepAlive && !reply.close;
        await this.write(req, reply, req.method === 'HEAD', keepAlive);
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
      this.socket.resume();
      this.armTimer();
    }
  }

  /** Write head and body; releases the reply's file reference. */
  private async write(
    req: Pick<RequestHead, 'method' | 'target'>,
    reply: Reply,
    headOnly: boolean,
    keepAlive: boolean,
  ): Promise<void> {
    const body = reply.body;
    try {
      const head = serializeHead(reply, keepAlive);
      this.ctx.log?.({
        method: req.method,
        target: req.target,
        status: reply.status,
        bytes: headOnly || reply.status === 304 ? 0 : bodyLength(body),
        remoteAddress: this.socket.remoteAddress,
        range: reply.headers.find(([k]) => k === 'Content-Range')?.[1],
      });
      if (headOnly || body.kind === 'none') {
        await writeWithBackpressure(this.socket, head, this.ctx.sendTimeoutMs);
      } else if (body.kind === 'bytes') {
        await writeWithBackpressure(this.socket, Buffer.concat([head, body.data]), this.ctx.sendTimeoutMs);
      } else {
        await this.writeFileBody(head, body.file, body.start, body.end);
      }
    } finally {
      if (body.kind === 'file') body.file.release();
    }
  }

  /**
   * Head + file range. Small files come from the cache's memory copy and small
   * ranges are read into the head's buffer (one write); larger bodies go
   * through {@link sendBody} (zero-copy when the transport can).
   */
  private async writeFileBody(head: Buffer, file: CachedFile, start: number, end: number): Promise<void> {
    const whole = start === 0 && end === file.size - 1;
    const small = whole ? await file.smallContent() : null;
    if (small) {
      await writeWithBackpressure(this.socket, Buffer.concat([head, small]), this.ctx.sendTimeoutMs);
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
      await writeWithBackpressure(this.socket, buf, this.ctx.sendTimeoutMs);
      return;
    }
    const sendFile = len >= this.ctx.zeroCopyMinBytes ? this.ctx.sendFile : undefined;
    await sendBody(this.socket, file.handle, start, end, { sendFile, head, stallTimeoutMs: this.ctx.sendTimeoutMs });
  }
}
