/**
 * Shared helpers for the file-server tests: a temp root with known files, an
 * in-process server, and raw-socket exchanges with a minimal response parser.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createFileServer, type FileServer, type FileServerOptions } from '../examples/file-server/server';
import type { AccessLogEntry } from '../examples/file-server/connection';

/** A temporary served root plus a sibling "secret" outside it. */
export interface Fixture {
  base: string;
  root: string;
  secret: string;
  cleanup(): void;
}

/** Bytes 0..255 repeated: position i holds i & 0xff. */
export function patternBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

/** Make a temp tree: root/{hello.txt, big.bin, style.css, sub/, noindex/, .hidden} and base/secret.txt. */
export function makeFixture(): Fixture {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'http-test-'));
  const root = path.join(base, 'root');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello world\n');
  fs.writeFileSync(path.join(root, 'big.bin'), patternBytes(300_000));
  fs.writeFileSync(path.join(root, 'style.css'), 'body { color: red }\n');
  fs.writeFileSync(path.join(root, 'empty.txt'), '');
  fs.mkdirSync(path.join(root, 'sub'));
  fs.writeFileSync(path.join(root, 'sub', 'index.html'), '<h1>sub index</h1>\n');
  fs.mkdirSync(path.join(root, 'noindex'));
  fs.writeFileSync(path.join(root, 'noindex', 'a.txt'), 'a');
  fs.writeFileSync(path.join(root, '.hidden'), 'hidden');
  const secret = path.join(base, 'secret.txt');
  fs.writeFileSync(secret, 'TOP-SECRET-CONTENT\n');
  return { base, root, secret, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** A listening server plus its access log. */
export interface Running {
  server: FileServer;
  port: number;
  log: AccessLogEntry[];
  url(p: string): string;
}

/** Start a server on port 0 for `root`. */
export async function start(root: string, options: Partial<FileServerOptions> = {}): Promise<Running> {
  const log: AccessLogEntry[] = [];
  const server = createFileServer({ root, port: 0, log: (e) => log.push(e), ...options });
  const a = await server.listen();
  return { server, port: a.port, log, url: (p) => `http://127.0.0.1:${a.port}${p}` };
}

/** A parsed HTTP response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Parse as many complete responses as `data` holds. `headFlags[i]` says the
 * i-th response answers a HEAD (no body despite Content-Length).
 */
export function parseResponses(data: Buffer, headFlags: boolean[] = []): RawResponse[] {
  const out: RawResponse[] = [];
  let off = 0;
  while (off < data.length) {
    const end = data.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0) break;
    const lines = data.subarray(off, end).toString('latin1').split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const isHead = headFlags[out.length] === true;
    const len = isHead || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
    if (end + 4 + len > data.length) break;
    out.push({ status, headers, body: data.subarray(end + 4, end + 4 + len) });
    off = end + 4 + len;
  }
  return out;
}

/** Options of {@link exchange}. */
export interface ExchangeOptions {
  /** Write the request in these pieces with a turn of the event loop between them. */
  pieces?: Array<string | Buffer>;
  /** Half-close after writing. */
  endAfterWrite?: boolean;
  /** Resolve once this many responses have arrived (default: wait for the server to close). */
  responses?: number;
  headFlags?: boolean[];
  /** Give up after this many ms (default 5000). */
  timeoutMs?: number;
}

/** Result of {@link exchange}. */
export interface ExchangeResult {
  raw: Buffer;
  responses: RawResponse[];
  /** Whether the server closed the connection. */
  closed: boolean;
}

/** Send raw bytes on a fresh connection and collect the answer. */
export function exchange(port: number, request: string | Buffer, o: ExchangeOptions = {}): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      sock.destroy();
      resolve({ raw, responses: parseResponses(raw, o.headFlags), closed });
    };
    const timer = setTimeout(() => finish(false), o.timeoutMs ?? 5000);
    sock.on('data', (d) => {
      chunks.push(d);
      if (o.responses !== undefined && parseResponses(Buffer.concat(chunks), o.headFlags).length >= o.responses) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => (settled ? undefined : (settled = true, clearTimeout(timer), reject(e))));
    sock.on('connect', async () => {
      const pieces = o.pieces ?? [request];
      for (const p of pieces) {
        if (sock.destroyed) return;
        sock.write(p);
        await new Promise((r) => setImmediate(r));
      }
      if (o.endAfterWrite) sock.end();
    });
  });
}

/** `GET <target> HTTP/1.1` with Host and extra header lines. */
export function get(target: string, extra: string[] = [], method = 'GET'): string {
  return [`${method} ${target} HTTP/1.1`, 'Host: localhost', ...extra, '', ''].join('\r\n');
}
