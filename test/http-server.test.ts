/**
 * File server over real sockets: Node's fetch and raw TCP for framing,
 * pipelining, hostile and malformed input, limits and timeouts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { exchange, get, makeFixture, parseResponses, patternBytes, start, type Fixture, type Running } from './http-helpers';

let fx: Fixture;
let srv: Running;

test.before(async () => {
  fx = makeFixture();
  fs.writeFileSync(path.join(fx.root, 'noindex', '<b>x&y".txt'), 'escaped');
  fs.symlinkSync(fx.secret, path.join(fx.root, 'link-out.txt'));
  fs.symlinkSync(fx.base, path.join(fx.root, 'dirlink'));
  fs.symlinkSync(path.join(fx.root, 'hello.txt'), path.join(fx.root, 'link-in.txt'));
  srv = await start(fx.root, { cache: { revalidateMs: 0 } });
});

test.after(async () => {
  await srv.server.close();
  fx.cleanup();
});

test('fetch: GET a file with length, type and validators', async () => {
  const res = await fetch(srv.url('/hello.txt'));
  assert.is(res.status, 200);
  assert.is(await res.text(), 'hello world\n');
  assert.is(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.is(res.headers.get('content-length'), '12');
  assert.is(res.headers.get('accept-ranges'), 'bytes');
  assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f-]+"$/);
  assert.is(res.headers.get('last-modified'), new Date(fs.statSync(path.join(fx.root, 'hello.txt')).mtimeMs).toUTCString());
});

test('fetch: a large file arrives whole and intact', async () => {
  const res = await fetch(srv.url('/big.bin'));
  const body = Buffer.from(await res.arrayBuffer());
  assert.is(res.status, 200);
  assert.ok(body.equals(patternBytes(300_000)));
});

test('fetch: empty file, 404, hidden file, directory index and redirect', async () => {
  const empty = await fetch(srv.url('/empty.txt'));
  assert.is(empty.status, 200);
  assert.is(empty.headers.get('content-length'), '0');
  assert.is(await empty.text(), '');
  assert.is((await fetch(srv.url('/nope.txt'))).status, 404);
  assert.is((await fetch(srv.url('/.hidden'))).status, 404);
  assert.is((await fetch(srv.url('/hello.txt/'))).status, 404);
  const sub = await fetch(srv.url('/sub/'));
  assert.is(sub.status, 200);
  assert.is(await sub.text(), '<h1>sub index</h1>\n');
  assert.is(sub.headers.get('content-type'), 'text/html; charset=utf-8');
  const redirect = await fetch(srv.url('/sub?x=1'), { redirect: 'manual' });
  assert.is(redirect.status, 301);
  assert.is(redirect.headers.get('location'), '/sub/?x=1');
});

test('fetch: a directory without index.html is listed with escaped names', async () => {
  const res = await fetch(srv.url('/noindex/'));
  const html = await res.text();
  assert.is(res.status, 200);
  assert.ok(html.includes('href="a.txt"'));
  assert.not.ok(html.includes('<b>'), 'raw name must not appear');
  assert.ok(html.includes('&#60;b&#62;x&#38;y&#34;.txt'));
  const follow = await fetch(srv.url('/noindex/' + encodeURIComponent('<b>x&y".txt')));
  assert.is(await follow.text(), 'escaped');
});

test('HEAD: headers with Content-Length, no body; the connection stays usable', async () => {
  const r = await exchange(srv.port, get('/hello.txt', [], 'HEAD') + get('/hello.txt'), {
    responses: 2,
    headFlags: [true, false],
  });
  assert.is(r.responses.length, 2);
  assert.is(r.responses[0].status, 200);
  assert.is(r.responses[0].headers['content-length'], '12');
  assert.is(r.responses[0].body.length, 0);
  assert.is(r.responses[1].body.toString(), 'hello world\n');
  assert.is(r.raw.toString('latin1').split('hello world').length, 2, 'only the GET carries a body');
});

test('405 with Allow for other methods', async () => {
  for (const m of ['POST', 'DELETE', 'OPTIONS', 'PUT', 'get']) {
    const r = await exchange(srv.port, get('/hello.txt', [], m), { responses: 1 });
    assert.is(r.responses[0].status, 405, m);
    assert.is(r.responses[0].headers['allow'], 'GET, HEAD');
  }
});

test('pipelined requests are answered in order, also when split anywhere', async () => {
  const reqs = [get('/hello.txt'), get('/style.css', [], 'HEAD'), get('/nope'), get('/big.bin', ['Range: bytes=1000-1009']), get('/sub/')];
  const flags = [false, true, false, false, false];
  const check = (r: Awaited<ReturnType<typeof exchange>>): void => {
    assert.equal(r.responses.map((x) => x.status), [200, 200, 404, 206, 200]);
    assert.is(r.responses[0].body.toString(), 'hello world\n');
    assert.is(r.responses[1].headers['content-type'], 'text/css; charset=utf-8');
    assert.ok(r.responses[3].body.equals(patternBytes(1010).subarray(1000)));
    assert.is(r.responses[4].body.toString(), '<h1>sub index</h1>\n');
  };
  check(await exchange(srv.port, reqs.join(''), { responses: 5, headFlags: flags }));
  const all = Buffer.from(reqs.join(''));
  const pieces: Buffer[] = [];
  for (let off = 0, i = 0; off < all.length; i++) {
    const n = [1, 7, 3, 40, 2][i % 5];
    pieces.push(all.subarray(off, off + n));
    off += n;
  }
  check(await exchange(srv.port, '', { pieces, responses: 5, headFlags: flags }));
  // Half-closing after the pipelined batch still gets every answer, then the server closes.
  const half = await exchange(srv.port, reqs.join(''), { endAfterWrite: true, headFlags: flags });
  check(half);
  assert.ok(half.closed);
});

test('keep-alive: HTTP/1.1 stays open, Connection: close and HTTP/1.0 close', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => (buf = Buffer.concat([buf, d])));
  const waitFor = async (n: number): Promise<void> => {
    while ((buf.toString('latin1').match(/HTTP\/1\.1 /g) ?? []).length < n || !buf.toString().endsWith('\n')) {
      await new Promise((r) => sock.once('data', r));
    }
  };
  sock.write(get('/hello.txt'));
  await waitFor(1);
  sock.write(get('/style.css'));
  await waitFor(2);
  assert.ok(!sock.destroyed && sock.readyState === 'open', 'still open after two requests');
  assert.ok(buf.toString().includes('Connection: keep-alive'));
  sock.destroy();

  const closed = await exchange(srv.port, get('/hello.txt', ['Connection: close']));
  assert.ok(closed.closed);
  assert.is(closed.responses[0].headers['connection'], 'close');
  const old = await exchange(srv.port, 'GET /hello.txt HTTP/1.0\r\n\r\n');
  assert.ok(old.closed);
  assert.is(old.responses[0].body.toString(), 'hello world\n');
});

test('malformed and hostile requests: 400 (or 505) and close, never file content', async () => {
  const cases: Array<[string, number]> = [
    ['GET /hello.txt HTTP/1.1\nHost: x\n\n', 400],
    ['GET /hello.txt\r\n\r\n', 400],
    ['GET /hello.txt HTTP/1.1\r\n\r\n', 400],
    ['GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['GET /hello.txt HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', 400],
    ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 400], // a TLS ClientHello
    ['GET /hello.txt HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
  ];
  for (const [raw, status] of cases) {
    const r = await exchange(srv.port, Buffer.from(raw, 'latin1'));
    assert.is(r.responses[0]?.status, status, JSON.stringify(raw));
    assert.ok(r.closed, `closed after ${JSON.stringify(raw)}`);
    assert.not.ok(r.raw.toString().includes('hello world'));
  }
});

test('requests announcing a body are refused and the connection closed', async () => {
  const withLength = await exchange(srv.port, get('/hello.txt', ['Content-Length: 5']) + 'hello');
  assert.is(withLength.responses[0].status, 413);
  assert.ok(withLength.closed);
  const chunked = await exchange(srv.port, get('/hello.txt', ['Transfer-Encoding: chunked']) + '5\r\nhello\r\n0\r\n\r\n');
  assert.is(chunked.responses[0].status, 400);
  assert.ok(chunked.closed);
  assert.is(chunked.responses.length, 1, 'the body is not parsed as a request');
  const zero = await exchange(srv.port, get('/hello.txt', ['Content-Length: 0']), { responses: 1 });
  assert.is(zero.responses[0].status, 200);
});

test('414 for a long URI, 431 for large headers, both close', async () => {
  const long = await exchange(srv.port, get('/' + 'a'.repeat(5000)));
  assert.is(long.responses[0].status, 414);
  assert.ok(long.closed);
  const big = await exchange(srv.port, get('/hello.txt', Array.from({ length: 100 }, (_, i) => `X-Pad-${i}: ${'v'.repeat(90)}`)));
  assert.is(big.responses[0].status, 431);
  assert.ok(big.closed);
  // Unterminated oversized head: answered without waiting for the end of it.
  const endless = await exchange(srv.port, `GET / HTTP/1.1\r\nX: ${'y'.repeat(10_000)}`);
  assert.is(endless.responses[0].status, 431);
});

test('traversal: dot segments, encodings, NUL, backslashes, absolute-form, symlinks out', async () => {
  const hostile = [
    '/../secret.txt',
    '/../../../../etc/passwd',
    '/sub/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/.%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%2fsecret.txt',
    '/%2fetc%2fpasswd',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/hello.txt%00.png',
    '/%00',
    '/%c0%ae%c0%ae/secret.txt',
    'http://127.0.0.1/../secret.txt',
    'http://127.0.0.1/hello.txt',
    '/link-out.txt',
    '/dirlink/secret.txt',
    '/.git/config',
  ];
  for (const t of hostile) {
    const r = await exchange(srv.port, get(t), { responses: 1 });
    const status = r.responses[0]?.status;
    assert.ok(status === 400 || status === 403 || status === 404, `${t} -> ${status}`);
    assert.not.ok(r.raw.toString().includes('TOP-SECRET'), `${t} leaked the secret`);
    assert.not.ok(r.raw.toString().includes('root:'), `${t} leaked /etc/passwd`);
  }
  const inside = await fetch(srv.url('/link-in.txt'));
  assert.is(await inside.text(), 'hello world\n', 'a symlink that stays inside the root is served');
});

test('ranges over raw sockets: 206 bodies at the right offsets, 416, multi -> 200', async () => {
  const data = patternBytes(300_000);
  const r = await exchange(srv.port, get('/big.bin', ['Range: bytes=100000-250000']) + get('/big.bin', ['Range: bytes=-5']) + get('/big.bin', ['Range: bytes=299990-']), { responses: 3 });
  assert.is(r.responses[0].status, 206);
  assert.is(r.responses[0].headers['content-range'], 'bytes 100000-250000/300000');
  assert.ok(r.responses[0].body.equals(data.subarray(100000, 250001)));
  assert.ok(r.responses[1].body.equals(data.subarray(299995)));
  assert.ok(r.responses[2].body.equals(data.subarray(299990)));
  const bad = await exchange(srv.port, get('/big.bin', ['Range: bytes=300000-']), { responses: 1 });
  assert.is(bad.responses[0].status, 416);
  assert.is(bad.responses[0].headers['content-range'], 'bytes */300000');
  // A suffix range of an empty file is satisfiable (RFC 9110 14.1.1): 200 with the empty body, as nginx answers.
  const empty = await exchange(srv.port, get('/empty.txt', ['Range: bytes=-5']) + get('/empty.txt', ['Range: bytes=0-']), { responses: 2 });
  assert.equal(empty.responses.map((x) => x.status), [200, 416]);
  assert.is(empty.responses[0].headers['content-length'], '0');
  assert.is(empty.responses[1].headers['content-range'], 'bytes */0');
  const multi = await exchange(srv.port, get('/hello.txt', ['Range: bytes=0-1,4-5']), { responses: 1 });
  assert.is(multi.responses[0].status, 200);
  assert.is(multi.responses[0].body.toString(), 'hello world\n');
});

test('conditional requests: 304 without body, stale validators get 200', async () => {
  const first = await fetch(srv.url('/style.css'));
  await first.text();
  const etag = first.headers.get('etag') ?? '';
  const lm = first.headers.get('last-modified') ?? '';
  const r = await exchange(srv.port, get('/style.css', [`If-None-Match: ${etag}`]) + get('/style.css', [`If-Modified-Since: ${lm}`]) + get('/style.css', ['If-None-Match: "stale"']), { responses: 3 });
  assert.equal(r.responses.map((x) => x.status), [304, 304, 200]);
  assert.is(r.responses[0].headers['etag'], etag);
  assert.is(r.responses[0].headers['content-length'], undefined);
  assert.is(r.responses[2].body.toString(), 'body { color: red }\n');
});

test('a changed file is revalidated: new content and ETag', async () => {
  const p = path.join(fx.root, 'changing.txt');
  fs.writeFileSync(p, 'version one');
  const a = await fetch(srv.url('/changing.txt'));
  assert.is(await a.text(), 'version one');
  fs.writeFileSync(p, 'version two, longer');
  const b = await fetch(srv.url('/changing.txt'));
  assert.is(await b.text(), 'version two, longer');
  assert.is.not(b.headers.get('etag'), a.headers.get('etag'));
  fs.renameSync(path.join(fx.root, 'style.css'), p); // replaced by another inode
  const c = await fetch(srv.url('/changing.txt'));
  assert.is(await c.text(), 'body { color: red }\n');
  fs.renameSync(p, path.join(fx.root, 'style.css'));
  assert.is((await fetch(srv.url('/changing.txt'))).status, 404);
});

test('a slow reader gets the whole body (backpressure), and other clients are served meanwhile', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.pause();
  sock.write(get('/big.bin'));
  await new Promise((r) => setTimeout(r, 50));
  assert.is((await fetch(srv.url('/hello.txt'))).status, 200);
  const chunks: Buffer[] = [];
  sock.on('data', (d) => chunks.push(d));
  sock.resume();
  const want = 300_000;
  while (Buffer.concat(chunks).length < want + 100) {
    const got = Buffer.concat(chunks);
    const headEnd = got.indexOf('\r\n\r\n');
    if (headEnd >= 0 && got.length - headEnd - 4 >= want) break;
    await new Promise((r) => sock.once('data', r));
  }
  const got = Buffer.concat(chunks);
  const body = got.subarray(got.indexOf('\r\n\r\n') + 4);
  assert.ok(body.equals(patternBytes(want)));
  sock.destroy();
});

test('garbage over sockets: every connection gets an error status or a clean close; the server lives on', async () => {
  let seed = 0x1234567;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const allowed = new Set([400, 404, 405, 413, 414, 431, 505]);
  const valid = Buffer.from(get('/hello.txt', ['Accept: */*']));
  for (let i = 0; i < 60; i++) {
    let data: Buffer;
    if (i % 2 === 0) {
      data = Buffer.alloc(1 + Math.floor(rand() * 200));
      for (let j = 0; j < data.length; j++) data[j] = Math.floor(rand() * 256);
    } else {
      data = Buffer.from(valid);
      for (let k = 0; k < 3; k++) data[Math.floor(rand() * data.length)] = Math.floor(rand() * 256);
    }
    const r = await exchange(srv.port, data, { endAfterWrite: true, timeoutMs: 3000 });
    assert.ok(r.closed, `payload ${i} left the connection open`);
    for (const res of r.responses) {
      assert.ok(allowed.has(res.status) || res.status === 200, `payload ${i}: status ${res.status}`);
      if (res.status === 200) assert.is(res.body.toString(), 'hello world\n');
    }
  }
  assert.is(await (await fetch(srv.url('/hello.txt'))).text(), 'hello world\n');
});


test('cached small file on a kept-alive connection: pipelined GETs and a HEAD answered, Date current, a changed file served new', async () => {
  const file = path.join(fx.root, 'hot.txt');
  fs.writeFileSync(file, 'first version\n');
  // Entries trusted for 300 ms: the requests below take the cache's synchronous path.
  const s = await start(fx.root, { cache: { revalidateMs: 300 } });
  const sock = net.connect(s.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  const responses = async (n: number): Promise<ReturnType<typeof parseResponses>> => {
    for (let i = 0; i < 200; i++) {
      const r = parseResponses(Buffer.concat(chunks));
      if (r.length >= n) return r;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error(`fewer than ${n} responses`);
  };
  try {
    await new Promise((r) => sock.once('connect', r));
    sock.write(get('/hot.txt').repeat(3) + get('/hot.txt', [], 'HEAD'));
    let r = await responses(3);
    for (const x of r.slice(0, 3)) {
      assert.is(x.status, 200);
      assert.is(x.body.toString(), 'first version\n');
      assert.is(x.headers['content-length'], '14');
      assert.is(x.headers['connection'], 'keep-alive');
    }
    await new Promise((res) => setTimeout(res, 1100));
    sock.write(get('/hot.txt'));
    r = parseResponses(Buffer.concat(chunks), [false, false, false, true]);
    for (let i = 0; i < 200 && r.length < 5; i++) {
      await new Promise((res) => setTimeout(res, 10));
      r = parseResponses(Buffer.concat(chunks), [false, false, false, true]);
    }
    assert.is(r.length, 5);
    assert.is(r[3].body.length, 0, 'HEAD: no body');
    assert.is(r[3].headers['content-length'], '14');
    assert.is.not(r[4].headers['date'], r[0].headers['date'], 'Date is not frozen in the kept response');
    assert.ok(Math.abs(Date.parse(r[4].headers['date']) - Date.now()) < 3000);
    assert.is(r[4].body.toString(), 'first version\n');
    // A changed file is noticed once the entry is revalidated.
    fs.writeFileSync(file, 'second, longer version\n');
    await new Promise((res) => setTimeout(res, 350));
    chunks.length = 0;
    sock.write(get('/hot.txt') + get('/hot.txt'));
    r = await responses(2);
    for (const x of r) {
      assert.is(x.body.toString(), 'second, longer version\n');
      assert.is(x.headers['content-length'], '23');
    }
  } finally {
    sock.destroy();
    await s.server.close();
    fs.unlinkSync(file);
  }
});

test.run();
