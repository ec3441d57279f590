import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as nodeNet from 'node:net';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as net from '../lib/net';
import { pipePool } from '../lib/pipes';
import { native } from '../lib/native';
import { netRing } from '../lib/net/ring';
import { fdCount, once, until } from './net-helpers';

/** sendFile's mode under test; net-sendfile-linked.test.ts reruns this file with 'linked'. */
const MODE = (process.env.SENDFILE_TEST_MODE ?? 'ready') as 'ready' | 'linked';
const sendFile = (socket: net.SendFileTarget, file: number | { fd: number }, o: net.SendFileOptions = {}): Promise<number> =>
  net.sendFile(socket, file, { ...o, mode: MODE });
const POSIX_FADV_DONTNEED = 4;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-sendfile-'));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A node:net server collecting everything one connection sends. */
async function sink(): Promise<{ port: number; received: Promise<Buffer>; close(): Promise<void> }> {
  let resolve!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => (resolve = r));
  const srv = nodeNet.createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      resolve(Buffer.concat(chunks));
      s.end();
    });
    s.on('error', () => resolve(Buffer.concat(chunks)));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    port: (srv.address() as nodeNet.AddressInfo).port,
    received,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

/** A node:net server running `onConnection`, and a facade client connected to it (errors ignored). */
async function peer(onConnection: (s: nodeNet.Socket) => void): Promise<{ srv: nodeNet.Server; c: net.Socket }> {
  const srv = nodeNet.createServer(onConnection);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = await client((srv.address() as nodeNet.AddressInfo).port);
  c.on('error', () => undefined);
  return { srv, c };
}

/** A {@link peer} that reads nothing for `delayMs`, then everything; `received()` is all of it once it ends. */
async function latePeer(delayMs: number): Promise<{ srv: nodeNet.Server; c: net.Socket; received(): Promise<Buffer> }> {
  let got: Promise<Buffer> | undefined;
  const { srv, c } = await peer((s) => {
    s.pause();
    setTimeout(() => s.resume(), delayMs);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    got = new Promise((r) => s.on('end', () => r(Buffer.concat(chunks))));
  });
  return { srv, c, received: async () => (await until(() => got !== undefined), got!) };
}

async function client(port: number): Promise<net.Socket> {
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  return c;
}

test('sendFile sends the whole file byte for byte, headers first', async () => {
  const data = randomBytes(5 * 1024 * 1024 + 123); // several pipe rounds
  const file = path.join(dir, 'whole.bin');
  fs.writeFileSync(file, data);
  const s = await sink();
  const c = await client(s.port);
  const fh = await fs.promises.open(file, 'r');
  const head = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 5243003\r\n\r\n');
  const n = await sendFile(c, fh, { headers: head });
  assert.is(n, data.length);
  c.end();
  const got = await s.received;
  assert.is(got.length, head.length + data.length);
  assert.is(sha(got), sha(Buffer.concat([head, data])));
  await fh.close();
  await s.close();
});

test('sendFile sends a range [start, end] after earlier writes', async () => {
  const data = randomBytes(300_000);
  const file = path.join(dir, 'range.bin');
  fs.writeFileSync(file, data);
  const s = await sink();
  const c = await client(s.port);
  const fd = fs.openSync(file, 'r');
  c.write('before:');
  const n = await sendFile(c, fd, { start: 1000, end: 200_999 });
  assert.is(n, 200_000);
  c.end(':after');
  const got = await s.received;
  assert.is(sha(got), sha(Buffer.concat([Buffer.from('before:'), data.subarray(1000, 201_000), Buffer.from(':after')])));
  fs.closeSync(fd);
  await s.close();
});

test('a file truncated during the transfer ends with a short count and a clear error, no leak', async () => {
  const file = path.join(dir, 'trunc.bin');
  const size = 8 * 1024 * 1024;
  fs.writeFileSync(file, Buffer.alloc(size, 9));
  const pool = pipePool();
  netRing(); // the thread's ring (2 fds) exists before counting, as in a running server
  const idleBefore = pool.idle;
  const beforeFds = fdCount();
  const s = await sink();
  const c = await client(s.port);
  const fd = fs.openSync(file, 'r+');
  const inUse = pool.inUse;
  const p = sendFile(c, fd, { end: size - 1 });
  // Cut the file while the transfer runs.
  setImmediate(() => fs.ftruncateSync(fd, 1024 * 1024));
  const err = await p.then(() => null, (e: Error & { code: string; bytesSent: number }) => e);
  assert.ok(err !== null, 'expected an error');
  assert.is(err!.code, 'ERR_FILE_TRUNCATED');
  assert.match(err!.message, /truncated/);
  // Bytes already in flight before the cut may exceed the new length; never the whole range.
  assert.ok(err!.bytesSent < size, `sent ${err!.bytesSent} of ${size}`);
  assert.is(pool.inUse, inUse, 'pipe returned to the pool');
  c.end();
  const got = await s.received;
  assert.is(got.length, err!.bytesSent, 'the count matches what the peer received');
  fs.closeSync(fd);
  await s.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(fdCount() <= beforeFds + 2 * (pool.idle - idleBefore), `no fd left beyond idle pooled pipes: ${fdCount()} vs ${beforeFds}`);
});

test('a peer that goes away is an EPIPE/ECONNRESET error and the pipe is not leaked', async () => {
  const file = path.join(dir, 'big.bin');
  fs.writeFileSync(file, Buffer.alloc(16 * 1024 * 1024, 1));
  const { srv, c } = await peer((s) => s.once('data', () => s.destroy()));
  const pool = pipePool();
  const inUse = pool.inUse;
  const fd = fs.openSync(file, 'r');
  const err = await sendFile(c, fd).then(() => null, (e: NodeJS.ErrnoException) => e);
  assert.ok(err !== null);
  assert.ok(err!.code === 'EPIPE' || err!.code === 'ECONNRESET', String(err!.code));
  assert.is(pool.inUse, inUse);
  fs.closeSync(fd);
  c.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
});

test('bad arguments are TypeErrors', async () => {
  const e = await net.sendFile(0 as unknown as net.Socket, 'x' as unknown as number).catch((x: Error) => x);
  assert.instance(e, TypeError);
  const m = await net.sendFile(0, 0, { mode: 'fast' as 'ready' }).catch((x: Error) => x);
  assert.instance(m, TypeError);
  assert.match((m as Error).message, /options\.mode/);
  for (const [bad, type] of [[-1, RangeError], [1.5, RangeError], [2 ** 31, RangeError], ['300', TypeError]] as const) {
    const e2 = await net.sendFile(0, 0, { stallTimeout: bad as number }).catch((x: Error) => x);
    assert.instance(e2, type, `stallTimeout ${String(bad)}`);
    assert.match((e2 as Error).message, /options\.stallTimeout/);
  }
});

test('an AbortSignal stops a transfer stuck on a peer that does not read; the pipe is not leaked', async () => {
  const file = path.join(dir, 'abort.bin');
  fs.writeFileSync(file, Buffer.alloc(64 * 1024 * 1024, 3));
  let remote: nodeNet.Socket | undefined;
  const { srv, c } = await peer((s) => { remote = s; s.pause(); s.on('error', () => undefined); });
  const pool = pipePool();
  const inUse = pool.inUse;
  const fd = fs.openSync(file, 'r');
  const pre = await sendFile(c, fd, { signal: AbortSignal.abort() }).then(() => null, (e: Error) => e);
  assert.is(pre?.name, 'AbortError', 'an aborted signal refuses at once');
  const ac = new AbortController();
  const t0 = Date.now();
  const p = sendFile(c, fd, { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const err = await p.then(() => null, (e: Error) => e);
  assert.is(err?.name, 'AbortError');
  assert.ok(Date.now() - t0 < 5000, 'settled soon after the abort');
  assert.is(pool.inUse, inUse, 'pipe returned or closed');
  fs.closeSync(fd);
  c.destroy();
  remote?.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
});

/** A node:net peer that reads `perTick` bytes (rounded up to a read) every `ms`, collecting them. */
function slowReader(perTick: number, ms: number, done: (b: Buffer) => void): (s: nodeNet.Socket) => void {
  return (s) => {
    const chunks: Buffer[] = [];
    let window = 0;
    const tick = setInterval(() => {
      window = 0;
      s.resume();
    }, ms);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      window += d.length;
      if (window >= perTick) s.pause();
    });
    s.on('close', () => {
      clearInterval(tick);
      done(Buffer.concat(chunks));
    });
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  };
}

test('stallTimeout: a peer that reads nothing is given up on with ETIMEDOUT; no pipe or fd left', async () => {
  const file = path.join(dir, 'stall.bin');
  const size = 64 * 1024 * 1024; // far more than the socket buffers and the pipe hold
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size); // sparse
  const pool = pipePool();
  netRing();
  const idleBefore = pool.idle;
  const inUse = pool.inUse;
  const beforeFds = fdCount();
  let remote!: nodeNet.Socket;
  const { srv, c } = await peer((s) => {
    remote = s;
    s.pause();
    s.on('error', () => undefined);
  });
  const fd = fs.openSync(file, 'r');
  const t0 = Date.now();
  const err = await sendFile(c, fd, { stallTimeout: 300 }).then(() => null, (e: net.SendFileTimeoutError) => e);
  const took = Date.now() - t0;
  assert.ok(err !== null, 'expected an error');
  assert.is(err!.code, 'ETIMEDOUT');
  assert.is(err!.errno, -110);
  assert.is(err!.syscall, 'sendfile');
  assert.ok(err!.bytesSent > 0 && err!.bytesSent < size, `bytesSent ${err!.bytesSent}`);
  assert.match(err!.message, /nothing for 300 ms/);
  assert.match(err!.message, new RegExp(`${err!.bytesSent} bytes`));
  assert.ok(took >= 300 && took < 3000, `gave up after ${took} ms`);
  assert.is(pool.inUse, inUse, 'pipe returned or closed');
  // The socket is left to the caller and still works: the peer gets what was sent, then the end.
  let received = 0;
  remote.on('data', (d: Buffer) => (received += d.length));
  const ended = once(remote, 'end');
  remote.resume();
  c.end();
  await ended;
  if (MODE === 'ready') assert.is(received, err!.bytesSent, 'the count matches what the peer received');
  else assert.ok(received >= err!.bytesSent, `at least the count reached the peer: ${received} >= ${err!.bytesSent}`);
  fs.closeSync(fd);
  c.destroy();
  remote.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
  await until(() => fdCount() <= beforeFds + 2 * (pool.idle - idleBefore), 2000, 'the fds to be closed')
    .catch(() => assert.unreachable(`fd leaked: ${fdCount()} vs ${beforeFds}`));
});

test('stallTimeout: a slow but steady reader is not timed out and gets every byte', async () => {
  const data = randomBytes(6 * 1024 * 1024); // more than socket buffers + pipe: the reader sets the pace
  const file = path.join(dir, 'slow.bin');
  fs.writeFileSync(file, data);
  let got!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => (got = r));
  const { srv, c } = await peer(slowReader(64 * 1024, 100, (b) => got(b)));
  const fd = fs.openSync(file, 'r');
  const t0 = Date.now();
  const n = await sendFile(c, fd, { stallTimeout: 300 });
  const took = Date.now() - t0;
  assert.is(n, data.length);
  // The transfer lasted many timeouts, with gaps of over a second between socket wake-ups.
  assert.ok(took > 1500, `the reader set the pace (${took} ms)`);
  c.end();
  const all = await received;
  assert.is(all.length, data.length);
  assert.is(sha(all), sha(data));
  fs.closeSync(fd);
  c.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
});

test('stallTimeout: the caller\'s signal still aborts (AbortError, not ETIMEDOUT)', async () => {
  const file = path.join(dir, 'stall-abort.bin');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 64 * 1024 * 1024);
  let remote: nodeNet.Socket | undefined;
  const { srv, c } = await peer((s) => { remote = s; s.pause(); s.on('error', () => undefined); });
  const pool = pipePool();
  const inUse = pool.inUse;
  const fd = fs.openSync(file, 'r');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const err = await sendFile(c, fd, { stallTimeout: 60_000, signal: ac.signal }).then(() => null, (e: Error) => e);
  assert.is(err?.name, 'AbortError');
  assert.is(pool.inUse, inUse);
  fs.closeSync(fd);
  c.destroy();
  remote?.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
});

test('stallTimeout also bounds the wait for writes queued before the call', async () => {
  const file = path.join(dir, 'queued.bin');
  fs.writeFileSync(file, Buffer.alloc(1000, 4));
  let remote: nodeNet.Socket | undefined;
  const { srv, c } = await peer((s) => { remote = s; s.pause(); s.on('error', () => undefined); });
  c.write(Buffer.alloc(32 * 1024 * 1024)); // more than the socket buffers take: most of it stays queued
  const fd = fs.openSync(file, 'r');
  const t0 = Date.now();
  const err = await sendFile(c, fd, { stallTimeout: 300 }).then(() => null, (e: net.SendFileTimeoutError) => e);
  assert.is(err?.code, 'ETIMEDOUT');
  assert.is(err!.bytesSent, 0);
  assert.ok(Date.now() - t0 < 3000, `gave up after ${Date.now() - t0} ms`);
  fs.closeSync(fd);
  c.destroy();
  remote?.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
});

test('stallTimeout on the node:net fallback (a stream copy): a peer that reads nothing gets ETIMEDOUT', async () => {
  if (MODE === 'linked') return; // no splices there: once is enough
  const file = path.join(dir, 'stall-stream.bin');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 64 * 1024 * 1024);
  let remote: nodeNet.Socket | undefined;
  const srv = nodeNet.createServer((s) => { remote = s; s.pause(); s.on('error', () => undefined); });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = nodeNet.connect((srv.address() as nodeNet.AddressInfo).port, '127.0.0.1');
  c.on('error', () => undefined);
  await once(c, 'connect');
  const fd = fs.openSync(file, 'r');
  const t0 = Date.now();
  const err = await net.sendFile(c, fd, { stallTimeout: 300 }).then(() => null, (e: net.SendFileTimeoutError) => e);
  assert.is(err?.code, 'ETIMEDOUT');
  assert.ok(err!.bytesSent > 0 && err!.bytesSent < 64 * 1024 * 1024);
  assert.ok(Date.now() - t0 < 3000);
  fs.closeSync(fd); // still open: the stream copy does not close the caller's file
  c.destroy();
  remote?.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
});

test('a file out of the page cache is sent intact (read by the ring, off the event loop)', async () => {
  const file = path.join(dir, 'cold.bin');
  const data = randomBytes(3 * 1024 * 1024 + 123);
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r');
  const s = await sink();
  try {
    fs.fdatasyncSync(fd);
    native.fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    // cachestat(2) answers 1/0, or < 0 where it is unknown (before Linux 6.5, or under valgrind);
    // tmpfs keeps its pages. The transfer must be right in every case.
    const coldBefore = native.cachedRange(fd, 0, data.length) === 0;
    const c = await client(s.port);
    const n = await sendFile(c, fd);
    c.end();
    const got = await s.received;
    assert.is(n, data.length);
    assert.is(sha(got), sha(data));
    if (coldBefore) assert.is(native.cachedRange(fd, 0, data.length), 1, 'the transfer brought the file into the page cache');
  } finally {
    fs.closeSync(fd);
    await s.close();
  }
});

test('a socket fd keeps its blocking mode after sendFile', async () => {
  const file = path.join(dir, 'mode.bin');
  fs.writeFileSync(file, Buffer.alloc(300_000, 5));
  const s = await sink();
  const c = await client(s.port);
  const fd = fs.openSync(file, 'r');
  const raw = c.fd; // sent to as a plain socket fd
  assert.is(native.setNonBlocking(raw, false), false, 'the facade keeps its sockets blocking');
  assert.is(await sendFile(raw, fd), 300_000);
  assert.is(native.setNonBlocking(raw, false), false, 'still blocking after sendFile');
  native.setNonBlocking(raw, true);
  assert.is(await sendFile(raw, fd, { start: 0, end: 0 }), 1);
  assert.is(native.setNonBlocking(raw, true), true, 'a non-blocking socket stays non-blocking');
  c.end();
  assert.is((await s.received).length, 300_001);
  fs.closeSync(fd);
  await s.close();
});

test('a non-blocking plain socket fd gets the whole file in linked mode too, however slowly the peer reads', async () => {
  const file = path.join(dir, 'nb-linked.bin');
  const data = randomBytes(8 << 20);
  fs.writeFileSync(file, data);
  // The socket fills up: an O_NONBLOCK splice into it says EAGAIN.
  const { srv, c, received } = await latePeer(200);
  const fd = fs.openSync(file, 'r');
  native.setNonBlocking(c.fd, true); // as node:net's own sockets are
  native.setsockopt(c.fd, native.socketConstants.SOL_SOCKET!, native.socketConstants.SO_SNDBUF!, 65536);
  try {
    assert.is(await net.sendFile(c.fd, fd, { mode: 'linked' }), data.length);
    c.end();
    assert.is(sha(await received()), sha(data));
  } finally {
    fs.closeSync(fd);
    c.destroy();
    srv.close();
  }
});

/**
 * A TCP peer in another process that reads nothing for `delayMs`, then drains
 * everything: a transfer that blocked this process's event loop cannot stall it.
 */
async function peerProcess(delayMs: number): Promise<{ port: number; stop(): void }> {
  const code = `const s = require('node:net').createServer((c) => { c.pause(); c.on('error', () => {});
    setTimeout(() => c.resume(), ${delayMs}); }).listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<Buffer>((resolve, reject) => {
    child.stdout!.once('data', resolve);
    child.once('exit', (c, sig) => reject(new Error(`the peer process ended (${c ?? sig}) before listening`)));
  });
  return { port: Number(line.toString().trim()), stop: () => child.kill('SIGKILL') };
}

test('sendFile leaves a facade-made socket O_NONBLOCK and sets it again if something cleared it', async () => {
  const file = path.join(dir, 'leave-nb.bin');
  fs.writeFileSync(file, randomBytes(16 << 20));
  const p = await peerProcess(1500);
  const c = await client(p.port);
  c.on('error', () => undefined);
  const fd = fs.openSync(file, 'r');
  native.setsockopt(c.fd, native.socketConstants.SOL_SOCKET!, native.socketConstants.SO_SNDBUF!, 65536);
  try {
    assert.is(await net.sendFile(c, fd, { mode: 'ready', start: 0, end: 9_999 }), 10_000);
    assert.is(native.setNonBlocking(c.fd, true), true, 'left O_NONBLOCK for the next response');
    // Something else clears it (a copy relay does). The next transfer must not run a blocking
    // splice(2) on the loop thread: the peer reads nothing for 1.5 s, so it times out first.
    native.setNonBlocking(c.fd, false);
    const t0 = Date.now();
    const err = await net.sendFile(c, fd, { mode: 'ready', stallTimeout: 300 }).catch((e: NodeJS.ErrnoException) => e);
    assert.is((err as NodeJS.ErrnoException).code, 'ETIMEDOUT', `timed out (got ${String(err)} after ${Date.now() - t0} ms)`);
  } finally {
    fs.closeSync(fd);
    c.destroy();
    p.stop();
  }
});

test('on a socket sendFile left O_NONBLOCK, linked transfers and writes the kernel answers with EAGAIN lose nothing', async () => {
  const file = path.join(dir, 'nb-writes.bin');
  const body = randomBytes(3 << 20);
  fs.writeFileSync(file, body);
  const { srv, c, received } = await latePeer(300);
  const fd = fs.openSync(file, 'r');
  const pieces = Array.from({ length: 64 }, () => randomBytes(64 * 1024));
  // This kernel's SEND/SENDMSG wait for room even on an O_NONBLOCK socket; one handed to
  // io-wq does not. Every other send answers EAGAIN here, as that one would.
  const ring = netRing() as unknown as Record<'send' | 'sendmsg', (...a: unknown[]) => Promise<number>>;
  let calls = 0;
  let injected = 0;
  const eagain = (): Error => Object.assign(new Error('EAGAIN: resource temporarily unavailable, send'),
    { code: 'EAGAIN', errno: -11, syscall: 'send' });
  for (const name of ['send', 'sendmsg'] as const) {
    const real = ring[name]!;
    ring[name] = function (this: unknown, ...a: unknown[]): Promise<number> {
      if (++calls % 2 === 1) {
        injected++;
        return Promise.reject(eagain());
      }
      return real.apply(this, a);
    };
  }
  try {
    assert.is(await net.sendFile(c, fd, { mode: 'ready' }), body.length);
    assert.is(native.setNonBlocking(c.fd, true), true, 'left O_NONBLOCK');
    assert.is(await net.sendFile(c, fd, { mode: 'linked' }), body.length, 'a linked transfer waits for room');
    c.cork(); // one gather send (SENDMSG) of 4 MiB, then what is left of it
    for (const p of pieces) c.write(p);
    c.uncork();
    await new Promise<void>((r, j) => c.end((e?: Error | null) => (e ? j(e) : r())));
    assert.ok(injected > 0, 'EAGAIN was answered');
    assert.is(sha(await received()), sha(Buffer.concat([body, body, ...pieces])));
  } finally {
    delete (ring as Partial<typeof ring>).send;
    delete (ring as Partial<typeof ring>).sendmsg;
    fs.closeSync(fd);
    c.destroy();
    srv.close();
  }
});

test('a socket adopted from options.fd gets its blocking mode back after sendFile', async () => {
  const file = path.join(dir, 'adopted.bin');
  fs.writeFileSync(file, Buffer.alloc(300_000, 3));
  const s = await sink();
  const K = native.socketConstants;
  const raw = native.socketSync(K.AF_INET!, K.SOCK_STREAM!, 0);
  await netRing().connect(raw, native.encodeSockaddr('127.0.0.1', s.port)!);
  const c = new net.Socket({ fd: raw });
  const fd = fs.openSync(file, 'r');
  try {
    assert.is(await net.sendFile(c, fd, { mode: 'ready' }), 300_000);
    assert.is(native.setNonBlocking(c.fd, false), false, 'blocking again, as it was given');
    c.end();
    assert.is((await s.received).length, 300_000);
  } finally {
    fs.closeSync(fd);
    c.destroy();
    await s.close();
  }
});

test.after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test.run();
