/**
 * A strict, small, incremental HTTP/1.x request-head parser.
 *
 * Bytes may arrive split anywhere: {@link RequestParser.push} appends a chunk,
 * {@link RequestParser.next} returns the next complete request head, a
 * "need more data" marker, or a terminal error carrying the status code to
 * answer with. The file server accepts no request bodies, so whatever follows
 * a head is the next pipelined request.
 *
 * Strictness (anything else is a 400): CRLF line endings only; a request line
 * of exactly `METHOD SP target SP HTTP/1.x`; header names are RFC 9110 tokens
 * with no whitespace before the colon; no obsolete line folding; no control
 * characters (other than HTAB) in values; at most one Host and one
 * Content-Length; HTTP/1.1 requests carry a Host header.
 */

/** Limits enforced while parsing. */
export interface ParserLimits {
  /** Longest request-target accepted, in bytes (longer: 414). Default 4096. */
  maxUriBytes?: number;
  /** Largest request head (request line + headers + blank line), in bytes (larger: 431). Default 8192. */
  maxHeaderBytes?: number;
  /** Most header fields accepted (more: 431). Default 100. */
  maxHeaderCount?: number;
}

/** One parsed request head. Header names are lower-cased; repeated fields are joined with ", ". */
export interface RequestHead {
  /** The method token, as sent (case-sensitive, e.g. `GET`). */
  method: string;
  /** The request-target, as sent (not decoded). */
  target: string;
  /** Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: 0 | 1;
  /** Header fields by lower-case name. */
  headers: Map<string, string>;
  /** Whether the connection stays open after the response (Connection header and version). */
  keepAlive: boolean;
}

/** Result of {@link RequestParser.next}. */
export type ParseResult =
  | { kind: 'request'; request: RequestHead }
  | { kind: 'need-more' }
  | { kind: 'error'; status: ParseErrorStatus; reason: string };

/**
 * Status codes the parser can ask for: 400 malformed (or Transfer-Encoding: no
 * bodies are accepted), 413 a non-zero Content-Length, 414 URI too long,
 * 431 head too large, 505 HTTP version other than 1.0/1.1.
 */
export type ParseErrorStatus = 400 | 413 | 414 | 431 | 505;

const CR = 0x0d;
const LF = 0x0a;

/** RFC 9110 tchar table. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || !TCHAR[c]) return false;
  }
  return true;
}

/** Visible ASCII (0x21..0x7e) only: no spaces, controls or non-ASCII in a request-target. */
function isTargetChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** SP or HTAB (optional whitespace around a field value). */
function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Field values: HTAB, SP, visible ASCII and obs-text; no other control characters. */
function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/**
 * Incremental request-head parser for one connection.
 *
 * After an `error` result the parser stays in the error state (the connection
 * is expected to answer and close).
 */
export class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of `buf` already scanned for the end of the head (no CRLFCRLF before this). */
  private scanned = 0;
  /** Bytes of `buf` already checked by {@link quickReject}. */
  private validated = 0;
  private failed: ParseResult | null = null;
  private readonly maxUri: number;
  private readonly maxHead: number;
  private readonly maxCount: number;

  /** @param limits size limits; see {@link ParserLimits} for the defaults. */
  constructor(limits: ParserLimits = {}) {
    this.maxUri = limits.maxUriBytes ?? 4096;
    this.maxHead = limits.maxHeaderBytes ?? 8192;
    this.maxCount = limits.maxHeaderCount ?? 100;
  }

  /** Bytes received but not yet returned as part of a request. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Append received bytes. Never throws. */
  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
  }

  /** Parse the next request head from the buffered bytes. Never throws. */
  next(): ParseResult {
    if (this.failed) return this.failed;
    // Ignore empty lines before a request line (RFC 9112 section 2.2), but only CRLF pairs.
    let start = 0;
    while (start + 1 < this.buf.length && this.buf[start] === CR && this.buf[start + 1] === LF) start += 2;
    if (start > 0) {
      this.buf = this.buf.subarray(start);
      this.scanned = Math.max(0, this.scanned - start);
      this.validated = Math.max(0, this.validated - start);
    }
    if (this.buf.length === 0) return { kind: 'need-more' };

    const end = this.findHeadEnd();
    if (end < 0) {
      const lineEnd = this.buf.indexOf(LF);
      // The request line alone is longer than any acceptable one: the URI is too long.
      if (lineEnd < 0 && this.buf.length > this.maxUri + 64) return this.fail(414, 'request line too long');
      if (this.buf.length > this.maxHead) {
        return lineEnd < 0 ? this.fail(414, 'request line too long') : this.fail(431, 'request head too large');
      }
      return this.quickReject() ?? { kind: 'need-more' };
    }
    if (end > this.maxHead) return this.fail(431, 'request head too large');
    const head = this.buf.subarray(0, end - 4).toString('latin1');
    this.buf = this.buf.subarray(end);
    this.scanned = 0;
    this.validated = 0;
    return this.parseHead(head);
  }

  /**
   * Index just past the first CRLFCRLF, or -1. Scanning resumes where the last
   * call stopped, so a head trickling in one byte at a time costs O(n).
   */
  private findHeadEnd(): number {
    const b = this.buf;
    const from = Math.max(0, this.scanned - 3);
    const i = b.indexOf('\r\n\r\n', from, 'latin1');
    if (i >= 0) return i + 4;
    this.scanned = b.length;
    return -1;
  }

  /**
   * Reject early what can never become valid, so garbage does not wait for the
   * header timeout: a bare LF or a CR not followed by LF, or a method that is
   * not a token.
   */
  private quickReject(): ParseResult | null {
    const b = this.buf;
    // Each byte is checked once; a trailing CR waits for the byte after it.
    let i = this.validated;
    for (; i < b.length; i++) {
      const c = b[i];
      if (c === LF && (i === 0 || b[i - 1] !== CR)) return this.fail(400, 'bare LF');
      if (c === CR) {
        if (i + 1 >= b.length) break;
        if (b[i + 1] !== LF) return this.fail(400, 'bare CR');
      }
      if (c === 0) return this.fail(400, 'NUL byte in request head');
    }
    this.validated = i;
    const sp = b.indexOf(0x20);
    const methodEnd = sp < 0 ? Math.min(b.length, 32) : sp;
    for (let i = 0; i < methodEnd; i++) {
      if (b[i] === CR) break;
      if (!TCHAR[b[i]]) return this.fail(400, 'invalid method');
    }
    if (sp < 0 && b.length > 32) return this.fail(400, 'method too long');
    return null;
  }

  private fail(status: ParseErrorStatus, reason: string): ParseResult {
    this.failed = { kind: 'error', status, reason };
    this.buf = Buffer.alloc(0);
    return this.failed;
  }

  /**
   * Parse one complete head (without its final CRLFCRLF). One pass for line
   * endings, then each line by index: no split arrays or regular
   * expressions on the path of a well-formed request.
   */
  private parseHead(head: string): ParseResult {
    // Every CR must start a CRLF and every LF end one; count the lines meanwhile.
    const n = head.length;
    let lineBreaks = 0;
    for (let i = 0; i < n; i++) {
      const c = head.charCodeAt(i);
      if (c === CR) {
        if (i + 1 >= n || head.charCodeAt(i + 1) !== LF) return this.fail(400, 'bare CR or LF');
        lineBreaks++;
        i++;
      } else if (c === LF) {
        return this.fail(400, 'bare CR or LF');
      }
    }
    let lineEnd = head.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = n;
    // The request line: exactly METHOD SP target SP version.
    const sp1 = head.indexOf(' ');
    const sp2 = sp1 < 0 || sp1 > lineEnd ? -1 : head.indexOf(' ', sp1 + 1);
    if (sp2 < 0 || sp2 > lineEnd) return this.fail(400, 'malformed request line');
    const sp3 = head.indexOf(' ', sp2 + 1);
    if (sp3 >= 0 && sp3 < lineEnd) return this.fail(400, 'malformed request line');
    const method = head.slice(0, sp1);
    const target = head.slice(sp1 + 1, sp2);
    const version = head.slice(sp2 + 1, lineEnd);
    if (!isToken(method)) return this.fail(400, 'invalid method');
    if (target.length > this.maxUri) return this.fail(414, 'URI too long');
    if (target.length === 0 || !isTargetChars(target)) return this.fail(400, 'invalid request-target');
    let versionMinor: 0 | 1;
    if (version === 'HTTP/1.1') versionMinor = 1;
    else if (version === 'HTTP/1.0') versionMinor = 0;
    else {
      const vm = /^HTTP\/(\d)\.(\d)$/.exec(version);
      if (!vm) return this.fail(400, 'malformed HTTP version');
      return this.fail(505, 'HTTP version not supported');
    }

    const headers = new Map<string, string>();
    if (lineBreaks > this.maxCount) return this.fail(431, 'too many header fields');
    let hostCount = 0;
    let lengthCount = 0;
    let pos = lineEnd + 2;
    while (pos <= n && lineEnd < n) {
      let end = head.indexOf('\r\n', pos);
      if (end < 0) end = n;
      lineEnd = end;
      const colon = head.indexOf(':', pos);
      if (colon <= pos || colon >= end) return this.fail(400, 'malformed header field');
      const name = head.slice(pos, colon);
      if (!isToken(name)) return this.fail(400, 'invalid header name');
      let vs = colon + 1;
      let ve = end;
      while (vs < ve && isBlank(head.charCodeAt(vs))) vs++;
      while (ve > vs && isBlank(head.charCodeAt(ve - 1))) ve--;
      const value = head.slice(vs, ve);
      if (!isFieldValue(value)) return this.fail(400, 'invalid header value');
      const key = name.toLowerCase();
      if (key === 'host') hostCount++;
      else if (key === 'content-length') lengthCount++;
      const prev = headers.get(key);
      headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
      pos = end + 2;
    }
    if (hostCount > 1) return this.fail(400, 'more than one Host header');
    if (versionMinor === 1 && hostCount === 0) return this.fail(400, 'HTTP/1.1 request without Host');
    if (headers.has('transfer-encoding')) return this.fail(400, 'request bodies are not accepted');
    if (lengthCount > 1) return this.fail(400, 'more than one Content-Length');
    const cl = headers.get('content-length');
    if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) return this.fail(400, 'invalid Content-Length');
      if (Number(cl) > 0) return this.fail(413, 'request bodies are not accepted');
    }
    const conn = headers.get('connection');
    let keepAlive = versionMinor === 1;
    if (conn !== undefined) {
      const connection = conn.toLowerCase().split(',').map((s) => s.trim());
      keepAlive = versionMinor === 1 ? !connection.includes('close') : connection.includes('keep-alive');
    }
    return { kind: 'request', request: { method, target, versionMinor, headers, keepAlive } };
  }
}
