/**
 * Unix domain sockets in the net facade, against node:net on the other end:
 * listen(path) and connect(path) both ways, node:http over a socket path in
 * both roles, abstract names, the socket file's life (created by listen,
 * removed by close, mode bits from readableAll/writableAll) and node:net's
 * errors (ENOENT, ECONNREFUSED on a stale file, EADDRINUSE, ENAMETOOLONG).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeNet from 'node:net';
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import * as net from '../lib/net';
import { fdCount, forcedFallback, once, readToEnd } from './net-helpers';
import { tempDir, within } from './helpers';
import { Worker } from 'node:worker_threads';
import { native } from '../lib/native';
import { AF_UNIX, PAD_ABSTRACT, unixSockaddr } from '../lib/net/unix';

let tmp: { dir: string; cleanup: () => void };
let n = 0;
const sockPath = (): string => path.join(tmp.dir, `s${++n}.sock`);
let baseline = 0;

test.before(() => {
  tmp = tempDir('uring-unix-');
  net.createServer(); // the facade's ring: its fds stay for the thread's life
  baseline = fdCount();
});
test.after(() => tmp.cleanup());

function closeServer(s: { close(cb?: (err?: Error) => void): unknown }): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

/** The error a connect to `p` ends with. */
function connectError(p: string): Promise<NodeJS.ErrnoException> {
  const c = net.connect(p);
  return within(new Promise((resolve, reject) => {
    c.once('error', resolve);
    c.once('connect', () => reject(new Error(`connected to ${p}`)));
  }), 5000, `connect to ${p}`);
}

test('listen(path): node:net clients echo 16 MiB intact; address() is the path; close() removes the socket file', async () => {
  const p = sockPath();
  const srv = net.createServer((s) => { s.on('error', () => undefined); s.pipe(s); });
  srv.listen(p);
  await once(srv, 'listening');
  assert.is(srv.address(), p);
  assert.ok(fs.statSync(p).isSocket(), 'the socket file exists');
  const payload = crypto.randomBytes(16 << 20);
  const c = nodeNet.connect(p);
  const got = readToEnd(c);
  c.end(payload);
  const back = await within(got, 20_000, 'the echo');
  assert.is(crypto.createHash('sha256').update(back).digest('hex'), crypto.createHash('sha256').update(payload).digest('hex'));
  await closeServer(srv);
  assert.not.ok(fs.existsSync(p), 'close() removed the socket file');
  // The path is free again at once.
  const again = net.createServer();
  again.listen({ path: p });
  await once(again, 'listening');
  await closeServer(again);
  assert.is(fdCount(), baseline, 'no fd left');
});

test('connect(path) to a node:net server: data both ways, half-close, no IP address; TCP options are harmless', async () => {
  const p = sockPath();
  const srv = nodeNet.createServer({ allowHalfOpen: true }, (s) => {
    readToEnd(s).then((b) => s.end(`got ${b.toString()}`), () => undefined);
  });
  await new Promise<void>((r) => srv.listen(p, r));
  const c = net.connect({ path: p, noDelay: true, keepAlive: true });
  await once(c, 'connect');
  assert.is(c.remoteAddress, undefined);
  assert.is(c.remotePort, undefined);
  c.setNoDelay(false);
  c.setKeepAlive(true, 1000);
  const got = readToEnd(c);
  c.end('over a unix socket');
  assert.is((await within(got, 5000, 'the answer')).toString(), 'got over a unix socket');
  await closeServer(srv);
  await new Promise((r) => setImmediate(r));
  assert.is(fdCount(), baseline, 'no fd left');
});

test('node:http over a socket path: to a facade server, and through a facade client (createConnection)', async () => {
  if (forcedFallback) return; // the facade is node:net itself then
  const p = sockPath();
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nunix ok\r\n'));
  });
  srv.listen(p);
  await once(srv, 'listening');
  const get = (opts: http.RequestOptions): Promise<string> => new Promise((resolve, reject) => {
    http.get({ socketPath: p, path: '/', ...opts }, (res) => readToEnd(res).then((b) => resolve(b.toString()), reject))
      .on('error', reject);
  });
  assert.is(await within(get({}), 5000, 'node:http client'), 'unix ok\r\n');
  const viaFacade = get({ createConnection: (o: http.ClientRequestArgs) => net.createConnection(o as net.ConnectOptions) as unknown as nodeNet.Socket });
  assert.is(await within(viaFacade, 5000, 'facade client'), 'unix ok\r\n');
  await closeServer(srv);
});

test('abstract names (leading NUL) reach node:net both ways and leave no file', async () => {
  const name = `\0uring-unix-test-${process.pid}-${++n}`;
  const srv = net.createServer((s) => s.end('from the facade'));
  srv.listen(name);
  await once(srv, 'listening');
  // Encoded as node:net encodes it: the kernel lists the same name node:net's own server would get.
  const listed = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').map((l) => l.split(' ').pop()!);
  // /proc shows each NUL as '@': padded to the whole sun_path (108 bytes) before libuv 1.48, exact after.
  const want = PAD_ABSTRACT ? ('@' + name.slice(1)).padEnd(108, '@') : '@' + name.slice(1);
  assert.ok(listed.includes(want), `listed as ${JSON.stringify(want)}`);
  const c = nodeNet.connect(name);
  assert.is((await within(readToEnd(c), 5000, 'node:net client')).toString(), 'from the facade');
  await closeServer(srv);
  const nsrv = nodeNet.createServer((s) => s.end('from node:net'));
  await new Promise<void>((r) => nsrv.listen(name, r));
  const c2 = net.connect(name);
  assert.is((await within(readToEnd(c2), 5000, 'facade client')).toString(), 'from node:net');
  await closeServer(nsrv);
  assert.throws(() => net.createServer().listen({ path: name, readableAll: true }),
    (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE' && /abstract name/.test(e.message));
});

test("argument forms as node:net: numeric strings are ports, a port wins over a path, any backlog is taken", async () => {
  if (forcedFallback) return;
  for (const bad of ['', ' ']) {
    assert.throws(() => net.createServer().listen(bad as unknown as number), (e: NodeJS.ErrnoException) =>
      e.code === 'ERR_SOCKET_BAD_PORT', `listen(${JSON.stringify(bad)})`);
  }
  // In the options object a string port is a port (validated), never a path; a path must be a socket path.
  const q = sockPath();
  for (const o of [{ path: q, port: 'abc' }, { port: q }]) {
    assert.throws(() => net.createServer().listen(o as unknown as net.ListenOptions), (e: NodeJS.ErrnoException) =>
      e.code === 'ERR_SOCKET_BAD_PORT', JSON.stringify(o));
  }
  for (const o of [{ path: '8080' }, { path: '' }]) {
    assert.throws(() => net.createServer().listen(o), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE',
      JSON.stringify(o));
  }
  assert.not.ok(fs.existsSync(q));
  const portKey = net.createServer();
  portKey.listen({ path: q, port: undefined, host: '127.0.0.1' }); // a port key, even undefined: TCP, as node:net
  await once(portKey, 'listening');
  assert.is(typeof portKey.address(), 'object');
  await closeServer(portKey);
  const p = sockPath();
  const byPort = net.createServer();
  byPort.listen({ port: 0, host: '127.0.0.1', path: p });
  await once(byPort, 'listening');
  assert.is(typeof byPort.address(), 'object', 'the port won');
  assert.not.ok(fs.existsSync(p));
  const port = (byPort.address() as net.AddressInfo).port;
  const viaString = net.connect(String(port), '127.0.0.1'); // a numeric string: a port, not a path
  await once(viaString, 'connect');
  viaString.destroy();
  await closeServer(byPort);
  for (const backlog of ['10', {}, -1, 2.5]) {
    const s = net.createServer();
    s.listen({ path: p, backlog: backlog as number });
    await once(s, 'listening');
    await closeServer(s);
  }
  assert.not.ok(fs.existsSync(p));
});

test("close() removes only its own socket file: not another server's at the same name, and a NUL ends the name", async () => {
  const p = sockPath();
  const a = net.createServer();
  a.listen(p);
  await once(a, 'listening');
  fs.unlinkSync(p); // a stale-file cleanup by someone else; then another server takes the name
  const b = net.createServer();
  b.listen(p);
  await once(b, 'listening');
  await closeServer(a);
  assert.ok(fs.existsSync(p), "the other server's file is still there");
  await closeServer(b);
  assert.not.ok(fs.existsSync(p));
  // The kernel binds a name up to its first NUL: that is the file close() removes.
  const withNul = sockPath();
  const c = net.createServer();
  c.listen(withNul + '\0ignored');
  await once(c, 'listening');
  assert.ok(fs.existsSync(withNul));
  await closeServer(c);
  assert.not.ok(fs.existsSync(withNul), 'removed by its name before the NUL');
});

test('a terminated worker takes its socket file with it: the path can be listened on again', async () => {
  const p = sockPath();
  const src = `
    const { parentPort } = require('node:worker_threads');
    const lib = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
    lib.net.createServer(() => {}).listen(${JSON.stringify(p)}, () => parentPort.postMessage('listening'));`;
  const w = new Worker(src, { eval: true });
  assert.is(await within(new Promise((r) => w.once('message', r)), 10_000, 'the worker listens'), 'listening');
  assert.ok(fs.existsSync(p));
  await w.terminate();
  assert.not.ok(fs.existsSync(p), 'the socket file is gone');
  const srv = net.createServer();
  srv.listen(p);
  await once(srv, 'listening');
  await closeServer(srv);
});

test('connect to a listener whose backlog is full fails at once with EAGAIN, as node:net', async () => {
  if (forcedFallback) return;
  const p = sockPath();
  // A listener that never accepts, with the smallest backlog.
  const lfd = native.socketSync(AF_UNIX, native.socketConstants.SOCK_STREAM!, 0);
  const clients: net.Socket[] = [];
  try {
    native.bind(lfd, unixSockaddr(p, 'bind') as Buffer);
    native.listen(lfd, 1);
    const outcomes = await within(Promise.all(Array.from({ length: 5 }, () => new Promise<string>((resolve) => {
      const c = net.connect(p);
      clients.push(c);
      c.once('connect', () => { resolve('connected'); });
      c.once('error', (e: NodeJS.ErrnoException) => resolve(`${e.code}: ${e.message}`));
    }))), 3000, 'every connect settles');
    assert.ok(outcomes.includes('connected'), outcomes.join(' | '));
    assert.ok(outcomes.includes(`EAGAIN: connect EAGAIN ${p}`), outcomes.join(' | '));
  } finally {
    for (const c of clients) c.destroy();
    native.closeFd(lfd);
    fs.rmSync(p, { force: true });
  }
});

test('readableAll and writableAll add r and w for everyone to the socket file, as node:net', async () => {
  const p = sockPath();
  const srv = net.createServer();
  srv.listen({ path: p, readableAll: true, writableAll: true });
  await once(srv, 'listening');
  assert.is(fs.statSync(p).mode & 0o666, 0o666);
  await closeServer(srv);
});

test("errors are node:net's: ENOENT, ECONNREFUSED (a stale socket file), EADDRINUSE, ENAMETOOLONG; nothing leaks", async () => {
  if (forcedFallback) return; // messages differ in detail
  const missing = path.join(tmp.dir, 'missing.sock');
  const e1 = await connectError(missing);
  assert.is(e1.code, 'ENOENT');
  assert.is(e1.message, `connect ENOENT ${missing}`);
  assert.is((e1 as NodeJS.ErrnoException & { address?: string }).address, missing);
  // A socket file whose server is gone (a crashed process leaves it): refused.
  const stale = sockPath();
  const dead = nodeNet.createServer();
  await new Promise<void>((r) => dead.listen(stale, r));
  fs.linkSync(stale, stale + '.kept'); // a second name: the file outlives close(), as after a crash
  await closeServer(dead);
  const e2 = await connectError(stale + '.kept');
  assert.is(e2.code, 'ECONNREFUSED');
  // The path is taken.
  const p = sockPath();
  const first = net.createServer();
  first.listen(p);
  await once(first, 'listening');
  const second = net.createServer();
  second.listen(p);
  const e3 = await once<NodeJS.ErrnoException>(second, 'error');
  assert.is(e3.code, 'EADDRINUSE');
  assert.match(e3.message, new RegExp(`^listen EADDRINUSE: address already in use ${p}`));
  await closeServer(first);
  // Too long for sun_path (107 bytes).
  const long = path.join(tmp.dir, 'x'.repeat(120));
  const e4 = await connectError(long);
  assert.is(e4.code, 'ENAMETOOLONG');
  assert.match(e4.message, /at most 107 bytes/);
  const big = net.createServer();
  big.listen(long);
  assert.is((await once<NodeJS.ErrnoException>(big, 'error')).code, 'ENAMETOOLONG');
  await new Promise((r) => setImmediate(r));
  assert.is(fdCount(), baseline, 'no fd left by any failure');
});

test.run();
