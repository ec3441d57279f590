import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rng } from './helpers';
import { RequestParser, type ParseResult, type RequestHead } from '../examples/file-server/parser';


function parseAll(p: RequestParser): ParseResult[] {
  const out: ParseResult[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const r = p.next();
    if (r.kind === 'need-more') return out;
    out.push(r);
    if (r.kind === 'error') return out;
  }
  throw new Error('parser did not settle (hang)');
}

function plain(r: ParseResult): unknown {
  if (r.kind !== 'request') return r;
  return { kind: 'request', ...r.request, headers: [...r.request.headers] };
}

function one(raw: string): ParseResult {
  const p = new RequestParser();
  p.push(Buffer.from(raw, 'latin1'));
  return p.next();
}

function req(raw: string): RequestHead {
  const r = one(raw);
  if (r.kind !== 'request') throw new Error(`expected a request, got ${JSON.stringify(r)}`);
  return r.request;
}

function status(raw: string): number | string {
  const r = one(raw);
  return r.kind === 'error' ? r.status : r.kind;
}

test('parses a simple GET with headers, lower-cased names, trimmed values', () => {
  const r = req('GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Thing:  v1 \t\r\nx-thing: v2\r\n\r\n');
  assert.is(r.method, 'GET');
  assert.is(r.target, '/a/b?x=1');
  assert.is(r.versionMinor, 1);
  assert.is(r.headers.get('host'), 'h');
  assert.is(r.headers.get('x-thing'), 'v1, v2');
  assert.ok(r.keepAlive);
});

test('keep-alive follows version and Connection header', () => {
  assert.not.ok(req('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n').keepAlive);
  assert.not.ok(req('GET / HTTP/1.0\r\n\r\n').keepAlive);
  assert.ok(req('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive);
});

test('malformed heads are 400', () => {
  const bad = [
    'GET / HTTP/1.1\nHost: h\n\n', // bare LF
    'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', // double space
    'GET / HTTP/1.1 \r\nHost: h\r\n\r\n',
    'GET /\r\nHost: h\r\n\r\n', // HTTP/0.9 style
    'G(T / HTTP/1.1\r\nHost: h\r\n\r\n',
    'GET / HTTP/1.1\r\nHost : h\r\n\r\n', // space before colon
    'GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n', // obs-fold
    'GET / HTTP/1.1\r\nNoColon\r\n\r\n',
    'GET / HTTP/1.1\r\n\r\n', // 1.1 without Host
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n',
    'GET / HTTP/x.1\r\nHost: h\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n',
  ];
  for (const b of bad) assert.is(status(b), 400, JSON.stringify(b));
});

test('version, body and size errors carry their own status', () => {
  assert.is(status('GET / HTTP/2.0\r\nHost: h\r\n\r\n'), 505);
  assert.is(status('GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n'), 413);
  assert.is(status('GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n'), 'request');
  assert.is(status(`GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: h\r\n\r\n`), 414);
  assert.is(status(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'a'.repeat(9000)}\r\n\r\n`), 431);
  // Detected before the head is complete: no waiting for the timeout.
  const p = new RequestParser();
  p.push(Buffer.from(`GET /${'a'.repeat(6000)}`));
  assert.equal(p.next(), { kind: 'error', status: 414, reason: 'request line too long' });
  const q = new RequestParser();
  q.push(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(9000)}`));
  assert.is((q.next() as { status: number }).status, 431);
});

test('leading empty lines are skipped; pipelined heads come out in order', () => {
  const p = new RequestParser();
  p.push(Buffer.from('\r\n\r\nGET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HT'));
  const rs = parseAll(p);
  assert.equal(rs.map((r) => (r.kind === 'request' ? r.request.target : r.kind)), ['/1', '/2']);
  p.push(Buffer.from('TP/1.1\r\nHost: h\r\n\r\n'));
  assert.equal(parseAll(p).map((r) => (r.kind === 'request' ? r.request.target : r.kind)), ['/3']);
  assert.is(p.buffered, 0);
});

test('an error is terminal', () => {
  const p = new RequestParser();
  p.push(Buffer.from('BAD\nrequest'));
  assert.is(p.next().kind, 'error');
  p.push(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
  assert.is(p.next().kind, 'error');
});

// ---- fuzz ----

const METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS', 'X-Custom', 'get'];
const NAMES = ['Accept', 'User-Agent', 'X-Foo', 'Range', 'If-None-Match', 'Cookie', 'a', 'X_Under.score~'];

function randomRequest(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const method = pick(METHODS);
  let target = '/';
  const segs = Math.floor(r() * 4);
  for (let i = 0; i < segs; i++) target += `${Math.floor(r() * 1e6).toString(36)}${i < segs - 1 ? '/' : ''}`;
  if (r() < 0.3) target += `?q=${Math.floor(r() * 1000)}&x=%20`;
  const v = r() < 0.8 ? 1 : 0;
  const lines = [`${method} ${target} HTTP/1.${v}`];
  if (v === 1 || r() < 0.5) lines.push(`Host: host${Math.floor(r() * 10)}.example`);
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const ws = r() < 0.3 ? ' \t ' : r() < 0.5 ? '' : ' ';
    lines.push(`${pick(NAMES)}:${ws}value-${Math.floor(r() * 1e9)} with spaces${ws}`);
  }
  if (r() < 0.2) lines.push('Connection: close');
  const lead = r() < 0.1 ? '\r\n' : '';
  return lead + lines.join('\r\n') + '\r\n\r\n';
}

function feedInPieces(p: RequestParser, data: Buffer, r: () => number): ParseResult[] {
  const out: ParseResult[] = [];
  let off = 0;
  while (off < data.length) {
    const n = r() < 0.3 ? 1 : 1 + Math.floor(r() * 40);
    p.push(data.subarray(off, off + n));
    off += n;
    const rs = parseAll(p);
    out.push(...rs);
    if (rs.some((x) => x.kind === 'error')) break;
  }
  return out;
}

test('fuzz: random splits of valid (pipelined) requests parse identically', () => {
  const r = rng(0x5eed);
  for (let iter = 0; iter < 1500; iter++) {
    const count = 1 + Math.floor(r() * 3);
    const stream = Buffer.from(Array.from({ length: count }, () => randomRequest(r)).join(''), 'latin1');
    const whole = new RequestParser();
    whole.push(stream);
    const expected = parseAll(whole).map(plain);
    assert.is(expected.length, count, `iteration ${iter}: ${JSON.stringify(stream.toString('latin1'))}`);
    assert.ok(expected.every((e) => (e as { kind: string }).kind === "request"), `iteration ${iter}`);
    const split = feedInPieces(new RequestParser(), stream, r).map(plain);
    assert.equal(split, expected, `iteration ${iter}`);
  }
});

test('fuzz: garbage and mutated requests never throw or hang; only error statuses or need-more', () => {
  const r = rng(0xbad5eed);
  const allowed = new Set([400, 413, 414, 431, 505]);
  const alphabet = 'GET /HTP1.\r\n: \t%\x00\x7f\xffabcHost';
  const started = Date.now();
  let errors = 0;
  let requests = 0;
  for (let iter = 0; iter < 3000; iter++) {
    let data: Buffer;
    const mode = iter % 3;
    if (mode === 0) {
      data = Buffer.alloc(1 + Math.floor(r() * 300));
      for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
    } else if (mode === 1) {
      let s = '';
      const n = 1 + Math.floor(r() * 200);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
      data = Buffer.from(s, 'latin1');
    } else {
      data = Buffer.from(randomRequest(r), 'latin1');
      const flips = 1 + Math.floor(r() * 4);
      for (let i = 0; i < flips; i++) data[Math.floor(r() * data.length)] = Math.floor(r() * 256);
    }
    const p = new RequestParser({ maxHeaderBytes: 256, maxUriBytes: 64 });
    const results = feedInPieces(p, data, r);
    for (const res of results) {
      if (res.kind === 'error') {
        errors++;
        assert.ok(allowed.has(res.status), `iteration ${iter}: status ${res.status}`);
      } else {
        requests++;
      }
    }
    // Afterwards asking again answers at once and the same way: an error sticks, else it wants more.
    const again = p.next();
    const last = results[results.length - 1];
    if (last?.kind === 'error') assert.equal(again, last, `iteration ${iter}: the error is repeated`);
    else assert.is(again.kind, 'need-more', `iteration ${iter}: nothing left over`);
  }
  assert.ok(errors > 1000, `garbage was refused (${errors} errors, ${requests} requests)`);
  assert.ok(Date.now() - started < 20_000, 'fuzz finished in time');
});

test('a head trickling in byte by byte costs linear time', () => {
  const p = new RequestParser({ maxHeaderBytes: 8192 });
  const head = Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'a'.repeat(8000)}\r\n\r\n`);
  const t0 = Date.now();
  let res: ParseResult = { kind: 'need-more' };
  for (let i = 0; i < head.length; i++) {
    p.push(head.subarray(i, i + 1));
    res = p.next();
    if (res.kind !== 'need-more') break;
  }
  assert.is(res.kind, 'request');
  assert.ok(Date.now() - t0 < 2000);
});

test.run();
