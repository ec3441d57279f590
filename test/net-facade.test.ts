import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeNet from 'node:net';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from '../lib/net';
import { native } from '../lib/native';
import { fdCount, once, until, forcedFallback, testWithFallback, fdList, freePort } from './net-helpers';
import { LIB, runNode } from './helpers';

let baseline = 0;
let baseList: string[] = [];
async function echoServer(opts: net.ServerOptions = {}): Promise<[net.Server, number]> {
  const srv = net.createServer(opts, (s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return [srv, (srv.address() as net.AddressInfo).port];
}

function close(srv: net.Server): Promise<void> {
  return new Promise((r) => srv.close(() => r()));
}

test.before(async () => {
  // Warm up node:net (which the tests use as a peer): it keeps a few fds of its own.
  const p = await freePort('127.0.0.1');
  void p;
  net.createServer(); // creates the facade's ring (two fds kept for the thread's life)
  baseline = fdCount();
  baseList = fdList();
});

test('backend is io_uring, or node when URING_BACKEND=node', () => {
  assert.is(net.backend, forcedFallback ? 'node' : 'io_uring');
  const s = new net.Socket();
  assert.is(s instanceof nodeNet.Socket, forcedFallback);
  s.destroy();
});

test('echo round trip with addresses and connect/end/close events', async () => {
  const [srv, port] = await echoServer();
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  assert.is(c.remoteAddress, '127.0.0.1');
  assert.is(c.remotePort, port);
  assert.is(c.remoteFamily, 'IPv4');
  assert.is(c.localAddress, '127.0.0.1');
  assert.ok((c.localPort ?? 0) > 0);
  assert.equal(srv.address(), { address: '127.0.0.1', family: 'IPv4', port });
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  c.end('hello, ring');
  await once(c, 'end');
  const hadError = await once<boolean>(c, 'close');
  assert.is(hadError, false);
  assert.is(Buffer.concat(chunks).toString(), 'hello, ring');
  assert.is(c.bytesRead, 11);
  await close(srv);
});

test('connect(port, cb) and connect({ port, host }, cb) call cb on connect (both backends)', async () => {
  const srv = nodeNet.createServer((s) => s.end());
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as nodeNet.AddressInfo).port;
  for (const open of [(cb: () => void) => net.connect(port, cb), (cb: () => void) => net.connect({ port, host: '127.0.0.1' }, cb)]) {
    let c: net.Socket | undefined;
    await new Promise<void>((resolve) => { c = open(resolve); c.on('error', () => undefined); });
    c!.destroy();
  }
  await new Promise((r) => srv.close(r));
});

test('destroy() while connecting cancels the connect in the kernel', async () => {
  if (forcedFallback) return; // node:net's own connect; nothing on the ring to check
  const { Ring } = await import('../lib/ring');
  const K = native.socketConstants;
  // A listener whose accept queue is full and never drained: a further connect waits (SYN retries).
  const lfd = native.socketSync(K.AF_INET!, K.SOCK_STREAM!, 0);
  native.bind(lfd, native.encodeSockaddr('127.0.0.1', 0)!);
  native.listen(lfd, 0);
  const port = native.getsockname(lfd).port;
  const fill = Array.from({ length: 4 }, () => nodeNet.connect(port, '127.0.0.1').on('error', () => undefined));
  try {
    await new Promise((r) => setTimeout(r, 100));
    const before = Ring.forThread().info().inflight;
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(c.connecting, 'the connect is still waiting');
    assert.ok(Ring.forThread().info().inflight > before, 'a connect is in flight');
    c.destroy();
    await once(c, 'close');
    await until(() => Ring.forThread().info().inflight <= before, 2000, 'the connect to be cancelled');
  } finally {
    for (const s of fill) s.destroy();
    native.closeFd(lfd);
  }
});

test('ECONNREFUSED is a Node-shaped error', async () => {
  const port = await freePort('127.0.0.1');
  const c = net.connect(port, '127.0.0.1');
  const err = await once<NodeJS.ErrnoException & { address: string; port: number }>(c, 'error');
  assert.is(err.code, 'ECONNREFUSED');
  assert.is(err.errno, -111);
  assert.is(err.syscall, 'connect');
  assert.is(err.address, '127.0.0.1');
  assert.is(err.port, port);
  assert.is(err.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  await once(c, 'close');
});

test('a write queued while connecting settles (with an error) when the connect fails', async () => {
  const port = await freePort('127.0.0.1');
  const c = net.connect(port, '127.0.0.1');
  c.on('error', () => undefined);
  const err = await new Promise<Error | null | undefined>((resolve) => c.write('x', resolve));
  assert.instance(err, Error, 'the write callback ran with an error');
  await until(() => c.destroyed, 2000, 'the socket closed');
});

test('EADDRINUSE is a Node-shaped error', async () => {
  const other = nodeNet.createServer().listen(0, '127.0.0.1');
  await once(other, 'listening');
  const port = (other.address() as nodeNet.AddressInfo).port;
  const srv = net.createServer();
  srv.listen({ port, host: '127.0.0.1' });
  const err = await once<NodeJS.ErrnoException & { address: string; port: number }>(srv, 'error');
  assert.is(err.code, 'EADDRINUSE');
  assert.is(err.errno, -98);
  assert.is(err.syscall, 'listen');
  assert.is(err.address, '127.0.0.1');
  assert.is(err.port, port);
  assert.is(err.message, `listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
  assert.is(srv.listening, false);
  await new Promise((r) => other.close(r));
});

test('half-close: allowHalfOpen keeps the server side writable after the peer ended', async () => {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('end', () => {
      s.end(`got ${got}`);
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  await once(c, 'connect');
  c.end('abc');
  let reply = '';
  c.on('data', (d: Buffer) => (reply += d.toString()));
  await once(c, 'end');
  assert.is(reply, 'got abc');
  await once(c, 'close');
  await close(srv);
});

test('peer reset mid-stream: ECONNRESET error then close(hadError)', async () => {
  let serverSide: net.Socket | undefined;
  const srv = net.createServer((s) => {
    serverSide = s;
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = nodeNet.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await once(c, 'connect');
  c.write(Buffer.alloc(1000, 1));
  await until(() => serverSide !== undefined && serverSide.bytesRead === 1000, 5000, 'data');
  const s = serverSide!;
  const errP = once<NodeJS.ErrnoException>(s, 'error');
  const closeP = new Promise<boolean>((r) => s.once('close', r));
  c.resetAndDestroy();
  const err = await errP;
  assert.is(err.code, 'ECONNRESET');
  assert.is(err.syscall, 'read');
  assert.is(await closeP, true);
  await close(srv);
});

test('peer reset while a big write is pending: an error, never a clean end (an aborted upload must not look complete)', async () => {
  for (const upload of [true, false]) {
    let serverSide: net.Socket | undefined;
    const srv = net.createServer((s) => { serverSide = s; });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const c = nodeNet.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
    c.pause(); // takes nothing: the server's write stays pending
    await once(c, 'connect');
    await until(() => serverSide !== undefined, 5000, 'accept');
    const s = serverSide!;
    const events: string[] = [];
    s.on('data', () => undefined);
    s.on('end', () => events.push('end'));
    s.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code}`));
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.write(Buffer.alloc(32 << 20), () => undefined);
    if (upload) c.write('partial upload');
    await new Promise((r) => setTimeout(r, 30));
    c.resetAndDestroy();
    await closed;
    assert.equal(events, ['error ECONNRESET'], `upload ${upload}: ${events.join(', ')}`);
    await close(srv);
  }
});

test('a peer that sent everything and closed, then reset by a late write of ours: every byte, then end', async () => {
  // Its FIN came first (CLOSE_WAIT); our banner then drew a RST (CLOSE). node:net: the data and 'end'.
  let serverSide: net.Socket | undefined;
  const srv = net.createServer({ pauseOnConnect: true }, (s) => { serverSide = s; s.write('220 banner\r\n'); });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = nodeNet.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  c.on('error', () => undefined);
  await once(c, 'connect');
  c.end(Buffer.alloc(64 << 10, 1), () => c.destroy());
  await until(() => serverSide !== undefined, 5000, 'accept');
  const s = serverSide!;
  await new Promise((r) => setTimeout(r, 200)); // the RST is in
  const events: string[] = [];
  let got = 0;
  s.on('end', () => events.push('end'));
  s.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code}`));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.on('readable', () => setTimeout(() => { let d; while ((d = s.read() as Buffer | null) !== null) got += d.length; }, 5));
  await closed;
  await close(srv);
  assert.equal([got, events], [64 << 10, ['end']]);
});

test('connect({ localAddress, localPort }) leaves from that address; a bad one is a clear error', async () => {
  const seen: string[] = [];
  const srv = nodeNet.createServer((s) => { seen.push(`${s.remoteAddress}`); s.destroy(); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as nodeNet.AddressInfo).port;
  const c = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  await once(c, 'connect');
  assert.is(c.localAddress, '127.0.0.2');
  await until(() => seen.length === 1, 5000, 'accept');
  assert.equal(seen, ['127.0.0.2']);
  c.destroy();
  assert.throws(() => net.connect({ port, host: '127.0.0.1', localAddress: 'not-an-ip' }), /Invalid IP address: not-an-ip/);
  // The local port is taken: the error names bind and the local endpoint.
  const taken = (srv.address() as nodeNet.AddressInfo).port;
  const d = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1', localPort: taken });
  const err = await once<NodeJS.ErrnoException>(d, 'error');
  assert.is(err.code, 'EADDRINUSE');
  assert.is(err.syscall, 'bind');
  // Without a localAddress the error names the wildcard the socket was bound to, as node:net's does.
  const e = net.connect({ port, host: '127.0.0.1', localPort: taken });
  const err2 = await once<NodeJS.ErrnoException & { address?: string }>(e, 'error');
  assert.is(err2.address, '0.0.0.0');
  await new Promise((r) => srv.close(r));
});

test('node:http requests over the facade (the agent passes path: null to createConnection)', async () => {
  const srv = http.createServer((req, res) => res.end(`ok ${req.url}`));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as nodeNet.AddressInfo).port;
  try {
    const agent = new http.Agent({ keepAlive: false });
    (agent as unknown as { createConnection: unknown }).createConnection = net.createConnection;
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/x', agent }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { b += d; });
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
    });
    assert.is(body, 'ok /x');
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test('misused calls throw clear errors: a path that is no string, connect() on a closed or connecting socket (io_uring backend)', async () => {
  if (forcedFallback) return; // node:net's own errors
  assert.throws(() => net.connect({ path: 42 } as unknown as net.ConnectOptions), (e: NodeJS.ErrnoException) =>
    e.code === 'ERR_INVALID_ARG_TYPE' && /"path" argument must be of type string/.test(e.message));
  const srv = net.createServer((s) => s.destroy());
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const c = net.connect(port, '127.0.0.1');
  let second = 0;
  assert.is(c.connect(port, '127.0.0.1', () => { second++; }), c, 'while connecting: its callback joins the first (as node:net)');
  await once(c, 'connect');
  assert.is(second, 1);
  assert.throws(() => c.connect(port, '127.0.0.1'), (e: NodeJS.ErrnoException) => e.code === 'ERR_SOCKET_CONNECTED');
  c.on('error', () => undefined);
  await once(c, 'close');
  assert.throws(() => c.connect(port, '127.0.0.1'), (e: NodeJS.ErrnoException) => e.code === 'ERR_SOCKET_CLOSED');
  await close(srv);
});

test('slow reader: buffered bytes stay bounded, then everything arrives', async () => {
  let serverSide: net.Socket | undefined;
  const srv = net.createServer({ pauseOnConnect: true }, (s) => {
    serverSide = s;
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await once(c, 'connect');
  const total = 32 * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 7);
  let written = 0;
  const writeMore = (): void => {
    while (written < total) {
      written += chunk.length;
      if (!c.write(chunk)) return;
    }
    c.end();
  };
  c.on('drain', writeMore);
  writeMore();
  await until(() => serverSide !== undefined, 5000, 'connection');
  const s = serverSide!;
  s.resume();
  s.pause();
  // Let the kernel buffers fill; the paused reader must not pull everything in.
  let maxBuffered = 0;
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 10));
    maxBuffered = Math.max(maxBuffered, s.readableLength);
  }
  assert.ok(written < total, 'writer was throttled by backpressure');
  assert.ok(maxBuffered <= s.readableHighWaterMark + 1024 * 1024, `buffered ${maxBuffered} bytes`);
  let got = 0;
  s.on('data', (d: Buffer) => {
    got += d.length;
    maxBuffered = Math.max(maxBuffered, s.readableLength);
  });
  s.resume();
  await once(s, 'end');
  assert.is(got, total);
  s.end();
  c.resume();
  await once(c, 'close');
  await close(srv);
});

test('closing a server with live connections: refuses new ones, keeps live ones, closes after them', async () => {
  const [srv, port] = await echoServer();
  const live = net.connect(port, '127.0.0.1');
  await once(live, 'connect');
  // Make sure the server accepted it before closing the listener.
  live.write('x');
  await once(live, 'data');
  const count = await new Promise<number>((r) => srv.getConnections((_e, n) => r(n)));
  assert.is(count, 1);
  let closed = false;
  srv.close(() => (closed = true));
  assert.is(srv.listening, false);
  assert.is(srv.address(), null);
  // New connections are refused once the listener is gone.
  await new Promise((r) => setTimeout(r, 20));
  const refused = net.connect(port, '127.0.0.1');
  const err = await once<NodeJS.ErrnoException>(refused, 'error');
  assert.is(err.code, 'ECONNREFUSED');
  // The live connection still echoes.
  live.write('still here');
  const d = await once<Buffer>(live, 'data');
  assert.is(d.toString(), 'still here');
  assert.is(closed, false);
  live.end();
  await once(live, 'close');
  await until(() => closed, 5000, 'server close');
});

test('setTimeout emits timeout after inactivity', async () => {
  const [srv, port] = await echoServer();
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  const t0 = Date.now();
  c.setTimeout(50);
  await once(c, 'timeout');
  assert.ok(Date.now() - t0 >= 45);
  assert.is(c.destroyed, false);
  c.setTimeout(0);
  c.destroy();
  await once(c, 'close');
  await close(srv);
});

test('async iteration reads until end', async () => {
  const srv = net.createServer((s) => {
    s.end(Buffer.alloc(300_000, 3));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  let n = 0;
  for await (const chunk of c) {
    for (const b of chunk as Buffer) assert.is(b, 3);
    n += (chunk as Buffer).length;
  }
  assert.is(n, 300_000);
  await close(srv);
});

/** The TCP state (hex, as /proc/net/tcp prints it: 01 ESTABLISHED, 04 FIN_WAIT1) of 127.0.0.1:local -> :remote. */
function tcpState(localPort: number, remotePort: number): string | undefined {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  const want = `0100007F:${hex(localPort)} 0100007F:${hex(remotePort)}`;
  const line = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').find((l) => l.includes(want));
  return line?.trim().split(/\s+/)[3];
}

test('destroy() under a write to a peer that reads nothing closes the socket (the pending send does not hold it open)', async () => {
  let peerSocket: nodeNet.Socket | undefined;
  const srv = nodeNet.createServer((s) => {
    s.on('error', () => undefined);
    s.pause(); // reads nothing until the facade socket is destroyed
    peerSocket = s;
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as nodeNet.AddressInfo).port;
  const c = net.connect(port, '127.0.0.1');
  try {
    await once(c, 'connect');
    c.on('error', () => undefined);
    const local = c.localPort!;
    c.write(Buffer.alloc(64 << 20, 1), () => undefined); // far more than both socket buffers hold
    await new Promise((r) => setTimeout(r, 200)); // the send now waits in the kernel for room
    assert.is(tcpState(local, port), '01', 'established while the write waits');
    const closed = once(c, 'close');
    c.destroy();
    await closed;
    // A send still in the kernel would hold the socket open, ESTABLISHED, until the peer reads.
    assert.is.not(tcpState(local, port), '01', 'closing: its FIN waits behind the queued bytes');
    await until(() => peerSocket !== undefined);
    const ended = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      peerSocket!.once('end', () => { clearTimeout(timer); resolve(true); });
      peerSocket!.resume();
    });
    assert.ok(ended, 'the peer reads the queued bytes, then the end of the stream');
  } finally {
    c.destroy();
    peerSocket?.destroy(); // lets a send left in the kernel fail, so the process can exit
    srv.close();
  }
});

test('a reader that ends and destroys at once (for await) leaves later sockets writable (no stray EPIPE)', async () => {
  // for-await over a socket calls end() (allowHalfOpen false) and destroy() in the same turn, so
  // the close went to the kernel while the shutdown(SHUT_WR) of end() was still queued in io-wq,
  // which looks the fd number up only when it runs. A socket opened right after took the number
  // and the late shutdown hit it: its writes failed with EPIPE. Before the fix this failed in
  // almost every round; each round here opens the next socket in that same turn.
  const errors: string[] = [];
  const open = new Set<net.Socket>();
  const track = (sock: net.Socket, who: string): net.Socket => {
    open.add(sock);
    sock.on('error', (e: NodeJS.ErrnoException) => errors.push(`${who} ${e.code} ${e.syscall}`));
    sock.on('close', () => open.delete(sock));
    return sock;
  };
  const srv = net.createServer((s) => {
    track(s, 'server');
    s.once('data', (d: Buffer) => {
      if (d[0] === 0x71) s.end(Buffer.alloc(100_000, 7)); // 'q': the reader's request
      else s.pipe(s).write(d); // anything else: echo
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  try {
    for (let i = 0; i < 40; i++) {
      const reader = track(net.connect(port, '127.0.0.1'), 'reader');
      reader.write('q');
      let n = 0;
      for await (const chunk of reader) n += (chunk as Buffer).length;
      // Same turn as the reader's destroy(): this socket takes the number the reader just closed.
      const next = track(net.connect(port, '127.0.0.1'), 'next');
      assert.is(n, 100_000);
      await once(next, 'connect');
      next.write('ping');
      let got = '';
      next.on('data', (d: Buffer) => (got += d.toString()));
      await until(() => got.length >= 4 || errors.length > 0 || next.destroyed, 5000, 'echo');
      assert.equal(errors, [], `round ${i}`);
      assert.is(got, 'ping');
      next.end();
      await once(next, 'close');
    }
  } finally {
    for (const sock of open) sock.destroy();
    await close(srv);
  }
  assert.equal(errors, []);
});

test('promise-level read() and write() (io_uring backend)', async () => {
  if (forcedFallback) return;
  const [srv, port] = await echoServer();
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  await c.promises.write('ping');
  let got = '';
  while (got.length < 4) {
    const chunk = await c.promises.read();
    assert.ok(chunk !== null);
    got += chunk!.toString();
  }
  assert.is(got, 'ping');
  c.end();
  assert.is(await c.promises.read(), null);
  await once(c, 'close');
  await close(srv);
});

test('setNoDelay and setKeepAlive reach the socket (io_uring backend)', async () => {
  if (forcedFallback) return;
  const [srv, port] = await echoServer();
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  const K = native.socketConstants;
  c.setNoDelay(true);
  assert.is(native.getsockopt(c.fd, K.IPPROTO_TCP!, K.TCP_NODELAY!), 1);
  c.setNoDelay(false);
  assert.is(native.getsockopt(c.fd, K.IPPROTO_TCP!, K.TCP_NODELAY!), 0);
  c.setKeepAlive(true, 7000);
  assert.is(native.getsockopt(c.fd, K.SOL_SOCKET!, K.SO_KEEPALIVE!), 1);
  assert.is(native.getsockopt(c.fd, K.IPPROTO_TCP!, K.TCP_KEEPIDLE!), 7);
  c.destroy();
  await once(c, 'close');
  await close(srv);
});

test('bad port is a RangeError with ERR_SOCKET_BAD_PORT', () => {
  assert.throws(() => net.connect(70000, '127.0.0.1'), (e: Error & { code: string }) => e.code === 'ERR_SOCKET_BAD_PORT');
});

test('socket.unref(): a connected socket waiting for data does not keep the process alive; ref() undoes it', () => {
  const run = (calls: string): boolean => {
    const r = runNode(`
      const nodeNet = require('node:net');
      const net = require(${JSON.stringify(`${LIB}/net`)});
      process.on('exit', () => console.log('exited'));
      const srv = nodeNet.createServer((s) => s.unref()).listen(0, '127.0.0.1', () => {
        srv.unref();
        const c = net.connect(srv.address().port, '127.0.0.1', () => { ${calls} });
      });`, { timeout: 3000 });
    return r.status === 0 && r.stdout.includes('exited');
  };
  assert.is(run(''), false, 'a referenced socket keeps the process alive');
  assert.is(run('c.unref();'), true, 'unref lets it exit');
  assert.is(run('c.unref(); c.ref();'), false, 'ref undoes unref');
});

test('no fd left open', async () => {
  await until(() => fdCount() <= baseline, 3000, `fd count back to ${baseline}`).catch(() => undefined);
  assert.is(fdCount(), baseline, fdList().join(' '));
});

testWithFallback(test, 'net-facade.test.js');

test.run();
