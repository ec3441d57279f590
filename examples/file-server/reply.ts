/**
 * What the server answers, independent of how it is written to the socket:
 * a status, header fields and a body (none, bytes, or a range of a cached file).
 */
import type { CachedFile } from './file-cache';

/** A response body. `file` ranges are inclusive and hold a cache reference until sent. */
export type ReplyBody =
  | { kind: 'none' }
  | { kind: 'bytes'; data: Buffer }
  | { kind: 'file'; file: CachedFile; start: number; end: number };

/** A response to write. Content-Length, Date and Connection are added by the writer. */
export interface Reply {
  status: number;
  /** Header fields other than Content-Length, Date and Connection. */
  headers: Array<[string, string]>;
  body: ReplyBody;
  /** Close the connection after this response (the request stream cannot continue). */
  close?: boolean;
  /**
   * Set on a whole-file 200 whose header fields are exactly the file's
   * standard set with this Content-Type: the writer may send a serialization
   * of head and body that the file keeps (see `CachedFile.wholeResponse`).
   */
  wholeFileType?: string;
}

/** Reason phrases for the statuses this server sends. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  206: 'Partial Content',
  301: 'Moved Permanently',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** Length of the body in bytes (what Content-Length announces). */
export function bodyLength(body: ReplyBody): number {
  switch (body.kind) {
    case 'none':
      return 0;
    case 'bytes':
      return body.data.length;
    case 'file':
      return body.end - body.start + 1;
  }
}

/** A short plain-text error/status reply, e.g. `404 Not Found`. */
export function statusReply(status: number, extra: Array<[string, string]> = [], close = false): Reply {
  const text = `${status} ${STATUS_TEXT[status] ?? 'Error'}\n`;
  return {
    status,
    headers: [['Content-Type', 'text/plain; charset=utf-8'], ...extra],
    body: { kind: 'bytes', data: Buffer.from(text) },
    close,
  };
}

let dateSecond = -1;
let dateValue = '';
/** The current `Date` header value (formatted at most once per second). */
export function currentDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(s * 1000).toUTCString();
  }
  return dateValue;
}

/**
 * Serialize the status line and header fields (with Content-Length unless the
 * status forbids a body length, Date and Connection) into one buffer.
 */
export function serializeHead(reply: Reply, keepAlive: boolean): Buffer {
  let s = `HTTP/1.1 ${reply.status} ${STATUS_TEXT[reply.status] ?? 'Unknown'}\r\n`;
  for (const [k, v] of reply.headers) s += `${k}: ${v}\r\n`;
  if (reply.status !== 304) s += `Content-Length: ${bodyLength(reply.body)}\r\n`;
  s += `Date: ${currentDate()}\r\n`;
  s += keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n';
  return Buffer.from(s, 'latin1');
}

/**
 * Head and body of a reply whose body is in memory (or empty), as one buffer;
 * for the short status replies written outside the request loop (408, 503).
 */
export function serializeWhole(reply: Reply, keepAlive: boolean): Buffer {
  const head = serializeHead(reply, keepAlive);
  return reply.body.kind === 'bytes' ? Buffer.concat([head, reply.body.data]) : head;
}
