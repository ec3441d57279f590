/**
 * File server limits: header timeout, connection limit, the open-file cache's
 * bound, eviction while a response is sending, and fd hygiene on close.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { FileCache } from '../examples/file-server/file-cache';
import { nodeFileSystem } from '../examples/file-server/file-io';
import { loadTransport } from '../examples/file-server/transport';
import { createFileServer } from '../examples/file-server/server';
import { exchange, get, makeFixture, patternBytes, start, type Fixture } from './http-helpers';
import { openFds, skipTest } from './helpers';
import { spawnSync } from 'node:child_process';
import { pipePool } from '../lib/pipes';
import { until } from './net-helpers';

let fx: Fixture;
test.before(() => {
  fx = makeFixture();
});
test.after(() => fx.cleanup());

/** Open fds of this process that name files under `dir` (sockets of other tests do not count). */
function fdsUnder(dir: string): number {
  const real = fs.realpathSync(dir);
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(real + path.sep)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

test('header timeout: measured from the end of the last response, not from the connection or the first wait', async () => {
  const srv = await start(fx.root, { headerTimeoutMs: 400 });
  const sock = net.connect(srv.port, '127.0.0.1');
  try {
    await new Promise((r) => sock.once('connect', r));
    let got = 0;
    let closedAt = 0;
    sock.on('data', (d: Buffer) => (got += d.toString('latin1').split('HTTP/1.1 200').length - 1));
    const closed = new Promise<void>((r) => sock.once('close', () => ((closedAt = Date.now()), r())));
    // Three requests 250 ms apart: each comes within the timeout of the one before, not of the first.
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 250));
      sock.write(get('/hello.txt'));
    }
    const lastSent = Date.now();
    await new Promise((r) => setTimeout(r, 200));
    assert.is(got, 3, 'all three answered');
    assert.not.ok(sock.destroyed || closedAt > 0, 'still open 200 ms after the last request');
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    assert.ok(closedAt > 0, 'closed once idle');
    const idle = closedAt - lastSent;
    assert.ok(idle >= 350 && idle < 2000, `closed ${idle} ms after the last request`);
  } finally {
    sock.destroy();
    await srv.server.close();
  }
});

test('header timeout: a slow head gets 408 and is closed; an idle connection is closed', async () => {
  const srv = await start(fx.root, { headerTimeoutMs: 150 });
  try {
    const t0 = Date.now();
    const slow = await exchange(srv.port, '', { pieces: ['GET /hello.txt HTTP/1.1\r\n', 'Host: x\r\n'], timeoutMs: 3000 });
    const took = Date.now() - t0;
    assert.ok(slow.closed, 'server closed the slow client');
    assert.is(slow.responses[0]?.status, 408);
    assert.ok(took >= 100 && took < 2000, `closed after ${took} ms`);

    const idle = await exchange(srv.port, '', { pieces: [], timeoutMs: 3000 });
    assert.ok(idle.closed);
    assert.is(idle.raw.length, 0);

    // A complete request in time is answered; the timer restarts for the next one.
    const ok = await exchange(srv.port, get('/hello.txt'), { timeoutMs: 3000 });
    assert.is(ok.responses[0].status, 200);
    assert.ok(ok.closed, 'the idle keep-alive connection is closed after the timeout');
  } finally {
    await srv.server.close();
  }
});

test('header timeout: a head sent one byte at a time is still timed out (bytes do not restart the clock)', async () => {
  const srv = await start(fx.root, { headerTimeoutMs: 300 });
  try {
    const t0 = Date.now();
    const c = net.connect(srv.port, '127.0.0.1');
    let raw = '';
    c.on('data', (d) => { raw += d; });
    c.on('error', () => undefined);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const head = 'GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
    let i = 0;
    const drip = setInterval(() => { if (i < head.length && !c.destroyed) c.write(head[i++]!); }, 100);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 4000))]);
    clearInterval(drip);
    const took = Date.now() - t0;
    c.destroy();
    assert.match(raw, /^HTTP\/1\.1 408 /, `answer: ${JSON.stringify(raw.slice(0, 40))}`);
    assert.ok(took < 1500, `closed after ${took} ms with a 300 ms header timeout (sent ${i} bytes)`);
  } finally {
    await srv.server.close();
  }
});

const zeroCopyModes = loadTransport().net.sendFile ? [false, true] : [false];

test('send timeout: a client that stops reading a large body is dropped, copied or zero-copy; no fd left', async () => {
  const file = path.join(fx.root, 'huge.bin');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 64 << 20); // sparse; far more than socket buffers and pipe hold
  try {
    for (const zeroCopy of zeroCopyModes) await stalledClient(zeroCopy);
  } finally {
    fs.unlinkSync(file);
  }
});

/** Open fds of this process, not counting idle pooled pipes (the pool may keep or close one). */
const held = (): number => openFds() - 2 * pipePool().idle;

async function stalledClient(zeroCopy: boolean): Promise<void> {
  const srv = await start(fx.root, { sendTimeoutMs: 200, zeroCopy });
  let sock: net.Socket | undefined;
  try {
    // Warm up: the ring, a pooled pipe and the cached file exist before the baseline, as in a running server.
    const warm = await exchange(srv.port, 'GET /huge.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-199999\r\n' +
      'Connection: close\r\n\r\n');
    assert.is(warm.responses[0]?.status, 206);
    await until(() => srv.server.connections === 0, 2000, 'the warm-up connection to close');
    const baseline = held();
    sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock!.once('connect', r));
    sock.pause(); // never read
    sock.write(get('/huge.bin'));
    await new Promise((r) => setTimeout(r, 100));
    assert.is(srv.server.connections, 1);
    const t0 = Date.now();
    while (srv.server.connections > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 25));
    assert.is(srv.server.connections, 0, `the stalled connection was dropped (zeroCopy ${zeroCopy})`);
    assert.ok(Date.now() - t0 < 3000);
    sock.destroy();
    // The server's socket and pipe are closed (the cached file stays open, as before).
    await until(() => held() <= baseline, 2000, 'the fds to be closed')
      .catch(() => assert.unreachable(`fds left behind (zeroCopy ${zeroCopy}): ${held()} vs ${baseline}`));
  } finally {
    sock?.destroy();
    await srv.server.close();
  }
}

test('a file truncated while it is being sent: the connection is dropped, not left hanging', async () => {
  for (const zeroCopy of zeroCopyModes) await truncatedWhileSending(zeroCopy);
});

async function truncatedWhileSending(zeroCopy: boolean): Promise<void> {
  const file = path.join(fx.root, 'shrinking.bin');
  fs.writeFileSync(file, Buffer.alloc(32 << 20, 1));
  const srv = await start(fx.root, { zeroCopy });
  const sock = net.connect(srv.port, '127.0.0.1');
  try {
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    sock.write(get('/shrinking.bin'));
    await new Promise((r) => setTimeout(r, 100));
    fs.truncateSync(file, 1 << 20);
    let received = 0;
    sock.on('data', (d: Buffer) => (received += d.length));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.resume();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise((r) => (timer = setTimeout(() => r(true), 5000))),
    ]);
    clearTimeout(timer);
    assert.not.ok(timedOut, `the server closed the connection (zeroCopy ${zeroCopy})`);
    assert.ok(received < 32 << 20, `fewer bytes than announced (${received})`);
  } finally {
    sock.destroy();
    await srv.server.close();
    fs.unlinkSync(file);
  }
}

test('connection limit: extra connections get 503 and are closed', async () => {
  const srv = await start(fx.root, { maxConnections: 1 });
  const first = net.connect(srv.port, '127.0.0.1');
  try {
    await new Promise((r) => first.once('connect', r));
    await new Promise((r) => setTimeout(r, 30));
    const second = await exchange(srv.port, get('/hello.txt'));
    assert.is(second.responses[0]?.status, 503);
    assert.ok(second.closed);
    first.destroy();
    await new Promise((r) => setTimeout(r, 30));
    const third = await exchange(srv.port, get('/hello.txt'), { responses: 1 });
    assert.is(third.responses[0].status, 200);
  } finally {
    first.destroy();
    await srv.server.close();
  }
});

test('cache: bounded, evicted fds are closed, hits skip the file system', async () => {
  const names = ['a', 'b', 'c', 'd', 'e'].map((n) => path.join(fx.root, `cache-${n}.txt`));
  names.forEach((p, i) => fs.writeFileSync(p, `file ${i}`));
  const cache = new FileCache(nodeFileSystem, fs.realpathSync(fx.root), { maxEntries: 2, revalidateMs: 60_000 });
  for (const p of names) {
    const r = await cache.lookup(p);
    assert.is(r.kind, 'file');
    if (r.kind === 'file') r.file.release();
  }
  await new Promise((r) => setTimeout(r, 20)); // closes are async
  assert.is(cache.size, 2);
  assert.is(fdsUnder(fx.root), 2, 'only the cached files hold fds');
  // Within the revalidation window a hit returns the same entry, even if the path vanished.
  const last = names[names.length - 1];
  const a = await cache.lookup(last);
  fs.unlinkSync(last);
  const b = await cache.lookup(last);
  assert.ok(a.kind === 'file' && b.kind === 'file' && a.file === b.file);
  if (a.kind === 'file') a.file.release();
  if (b.kind === 'file') b.file.release();
  cache.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.is(fdsUnder(fx.root), 0);
});

test('cache: concurrent lookups of one path share one fd', async () => {
  const cache = new FileCache(nodeFileSystem, fs.realpathSync(fx.root), { maxEntries: 8, revalidateMs: 0 });
  const results = await Promise.all(Array.from({ length: 20 }, () => cache.lookup(path.join(fx.root, 'hello.txt'))));
  for (const r of results) if (r.kind === 'file') r.file.release();
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(results.every((r) => r.kind === 'file'));
  assert.is(fdsUnder(fx.root), 1, 'one fd for the path, none orphaned');
  cache.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.is(fdsUnder(fx.root), 0);
});

test('cache: an entry evicted while in use stays open until released', async () => {
  const cache = new FileCache(nodeFileSystem, fs.realpathSync(fx.root), { maxEntries: 1, revalidateMs: 60_000 });
  const big = await cache.lookup(path.join(fx.root, 'big.bin'));
  if (big.kind !== 'file') throw new Error('expected a file');
  const other = await cache.lookup(path.join(fx.root, 'hello.txt')); // evicts big.bin
  if (other.kind === 'file') other.file.release();
  assert.ok(big.file.isOpen, 'still open while referenced');
  const buf = Buffer.alloc(10);
  const { bytesRead } = await big.file.handle.read(buf, 0, 10, 1000);
  assert.is(bytesRead, 10);
  assert.ok(buf.equals(patternBytes(1010).subarray(1000)));
  big.file.release();
  assert.not.ok(big.file.isOpen, 'closed on the last release');
  cache.close();
});

test('server: eviction during a slow response does not break it; close() releases every fd', async () => {
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(fx.root, `ev-${i}.txt`), `ev ${i}`);
  const srv = await start(fx.root, { cache: { maxEntries: 1, revalidateMs: 60_000 } });
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.pause();
  sock.write(get('/big.bin'));
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 6; i++) assert.is(await (await fetch(srv.url(`/ev-${i}.txt`))).text(), `ev ${i}`);
  const chunks: Buffer[] = [];
  sock.on('data', (d) => chunks.push(d));
  sock.resume();
  for (;;) {
    const got = Buffer.concat(chunks);
    const h = got.indexOf('\r\n\r\n');
    if (h >= 0 && got.length - h - 4 >= 300_000) break;
    await new Promise((r) => sock.once('data', r));
  }
  const got = Buffer.concat(chunks);
  assert.ok(got.subarray(got.indexOf('\r\n\r\n') + 4).equals(patternBytes(300_000)));
  assert.is(fdsUnder(fx.root), 1, 'one cached file open');
  sock.destroy();
  await srv.server.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.is(fdsUnder(fx.root), 0, 'no file fd left behind');
  assert.is(srv.server.connections, 0, 'no connection left behind');
});

test('Symbol.asyncDispose closes the server', async () => {
  const srv = await start(fx.root);
  {
    await using server = srv.server;
    assert.is((await fetch(srv.url('/hello.txt'))).status, 200);
    assert.ok(server.address());
  }
  assert.is(srv.server.address(), null);
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.is(refused, 'ECONNREFUSED');
});

test('bad options throw errors that name them', () => {
  assert.throws(() => createFileServer({ root: fx.root, port: 70000 }), (e: Error) => e instanceof RangeError && /"port"/.test(e.message));
  assert.throws(() => createFileServer({ root: fx.root, port: 1.5 }), (e: Error) => e instanceof TypeError && /"port"/.test(e.message));
  assert.throws(() => createFileServer({ root: fx.root, maxHeaderBytes: 10 }), /"maxHeaderBytes"/);
  assert.throws(() => createFileServer({ root: fx.root, cache: { maxEntries: 0 } }), /"cache.maxEntries"/);
  assert.throws(() => createFileServer({ root: '' }), /"root"/);
  assert.throws(() => createFileServer({ root: path.join(fx.root, 'hello.txt') }), /"root" option must be a directory/);
  assert.throws(() => createFileServer({ root: path.join(fx.root, 'missing') }), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  assert.throws(() => createFileServer({ root: fx.root, sndbuf: 100 }), /"sndbuf"/);
  assert.throws(() => createFileServer({ root: fx.root, sndbuf: 65536, transport: loadTransport('node') }),
    /node transport cannot set SO_SNDBUF/);
});

test('sndbuf: each client connection gets that send buffer (the kernel doubles it), and bodies arrive intact', async () => {
  const srv = await start(fx.root, { sndbuf: 65536 });
  const c = net.connect(srv.port, '127.0.0.1');
  try {
    await new Promise((r) => c.once('connect', r));
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    c.write(get('/big.bin'));
    const bodyLength = (): number => {
      const all = Buffer.concat(got);
      const head = all.indexOf('\r\n\r\n');
      return head < 0 ? -1 : all.length - head - 4;
    };
    await until(() => bodyLength() >= 300_000, 5000, 'the whole body');
    // The server's end of this connection, as ss(8) reports its socket memory: tb is SO_SNDBUF.
    const ss = spawnSync('ss', ['-tmnH', 'state', 'established', `( sport = :${srv.port} )`], { encoding: 'utf8' });
    if (ss.error) {
      skipTest('sndbuf', 'ss(8) (iproute2) is missing');
      return;
    }
    const tb = /\btb(\d+)/.exec(ss.stdout);
    assert.ok(tb, ss.stdout);
    assert.is(Number(tb![1]), 131072);
    const text = Buffer.concat(got);
    assert.ok(text.subarray(text.indexOf('\r\n\r\n') + 4).equals(patternBytes(300_000)), 'the body is intact');
  } finally {
    c.destroy();
    await srv.server.close();
  }
});

test.run();
