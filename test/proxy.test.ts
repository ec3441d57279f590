/**
 * The splice proxy example with real sockets: 100 MiB each way with sha256
 * equality, half-close both ways, backpressure, upstream down, client abort
 * mid-transfer (fds and pipes counted afterwards), idle timeout, connection
 * limit, TCP urgent data from a raw client, CLI. Runs with the default pump ('relay'); proxy-ready.test.ts,
 * proxy-io-wq.test.ts and proxy-copy.test.ts run this same file with
 * PROXY_TEST_PUMP=ready / io-wq / copy / auto.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { once } from 'node:events';
import { createProxy, type Proxy, type PumpKind } from '../examples/proxy/proxy';
import { parseProxyArgs } from '../examples/proxy/cli';
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import { native } from '../lib/native';
import { AF_UNIX, unixSockaddr } from '../lib/net/unix';
import { openFds, runNode, within } from './helpers';
import { until } from './net-helpers';
import { sendText, recvText } from './raw-tcp-helpers';

const K = native.socketConstants;

const MiB = 1 << 20;
const PUMP = (process.env.PROXY_TEST_PUMP ?? 'relay') as PumpKind;

/** What this process's fds point at, for failure messages. */
function fdList(): string {
  return fs.readdirSync('/proc/self/fd').map((fd) => {
    try { return `${fd}:${fs.readlinkSync(`/proc/self/fd/${fd}`)}`; } catch { return `${fd}:?`; }
  }).join(' ');
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** Deterministic bytes: block i of 64 KiB is filled from a seeded hash. */
function block(i: number): Buffer {
  const seed = crypto.createHash('sha256').update(`block ${i}`).digest();
  const b = Buffer.alloc(64 * 1024);
  for (let o = 0; o < b.length; o += 32) seed.copy(b, o);
  b.writeUInt32LE(i, 0);
  return b;
}

/** Writes blocks 0..count-1 to `s` with backpressure, hashing them into `hash`, then ends. */
function sendBlocks(s: net.Socket, count: number, hash: crypto.Hash): void {
  let i = 0;
  const write = (): void => {
    while (i < count) {
      const b = block(i++);
      hash.update(b);
      if (!s.write(b)) return void s.once('drain', write);
    }
    s.end();
  };
  write();
}

/**
 * Once `c` is connected, uploads into it until its writes stop draining, waits for the upstream's side
 * (`upstreamReady`), then 300 ms more: the upload is stalled against an upstream that does not read.
 */
async function stallUpload(c: net.Socket, upstreamReady: () => boolean): Promise<void> {
  await once(c, 'connect');
  const b = block(0);
  const write = (): void => { while (!c.destroyed && c.write(b)); if (!c.destroyed) c.once('drain', write); };
  write();
  await until(upstreamReady, 3000, 'the upstream connection');
  await new Promise((r) => setTimeout(r, 300));
}

async function withProxy(upstream: net.Server, fn: (p: Proxy, logs: string[]) => Promise<void>,
  opts: { idleTimeoutMs?: number; maxConnections?: number } = {}): Promise<void> {
  const upPort = await listen(upstream);
  const logs: string[] = [];
  const p = await createProxy({ listenHost: '127.0.0.1', listenPort: 0, upstreamHost: '127.0.0.1', upstreamPort: upPort,
    log: (m) => logs.push(m), pump: PUMP, ...opts });
  try {
    await fn(p, logs);
  } finally {
    await p.close();
    await new Promise((r) => upstream.close(r));
  }
}

test('100 MiB client -> upstream arrives intact (sha256), half-close propagates', async () => {
  const hash = crypto.createHash('sha256');
  let received = 0;
  const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = crypto.createHash('sha256');
    s.on('data', (d: Buffer) => { h.update(d); received += d.length; });
    s.on('end', () => s.end(h.digest('hex'))); // the client's FIN reached us: answer, then close
  });
  await withProxy(upstream, async (p) => {
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ port: p.address().port, host: '127.0.0.1', allowHalfOpen: true });
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('end', () => resolve(out));
      c.on('error', reject);
      sendBlocks(c, 1600, hash); // ends with a half-close: the reply must still come back
    });
    assert.is(received, 100 * MiB);
    assert.is(reply, hash.digest('hex'));
    for (let i = 0; i < 50 && p.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    if (PUMP === 'copy') assert.is(p.totals.splicedBytes, 0, 'the copy pump splices nothing and says so');
    else assert.ok(p.totals.splicedBytes > 90 * MiB, `bulk data was spliced: ${p.totals.splicedBytes} of ${p.totals.bytes}`);
  });
});

test('100 MiB upstream -> client arrives intact (sha256)', async () => {
  const sent = crypto.createHash('sha256');
  const upstream = net.createServer((s) => sendBlocks(s, 1600, sent));
  await withProxy(upstream, async (p) => {
    const got = crypto.createHash('sha256');
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(p.address().port, '127.0.0.1');
      c.on('data', (d: Buffer) => { got.update(d); n += d.length; });
      c.on('end', resolve);
      c.on('error', reject);
    });
    assert.is(n, 100 * MiB);
    assert.is(got.digest('hex'), sent.digest('hex'));
  });
});

test('backpressure: a client that does not read stalls the upstream; nothing is lost', async () => {
  const sent = crypto.createHash('sha256');
  let upstreamSocket: net.Socket | undefined;
  const total = 64 * MiB;
  const upstream = net.createServer((s) => {
    upstreamSocket = s;
    sendBlocks(s, total / (64 * 1024), sent);
  });
  await withProxy(upstream, async (p) => {
    const c = net.connect(p.address().port, '127.0.0.1');
    c.pause(); // read nothing yet
    await new Promise((r) => c.once('connect', r));
    // Wait until the upstream's writes stop making progress: socket buffers and one pipe are full.
    let last = -1;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const now = upstreamSocket ? upstreamSocket.bytesWritten - upstreamSocket.writableLength : 0;
      if (now > 0 && now === last) break;
      last = now;
    }
    const inFlight = upstreamSocket!.bytesWritten - upstreamSocket!.writableLength;
    // Kernel socket buffers on loopback grow to a few MiB each; the proxy adds at most one pipe.
    assert.ok(inFlight < 32 * MiB, `upstream got ${inFlight} bytes out while the client read nothing`);
    const got = crypto.createHash('sha256');
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      c.on('data', (d: Buffer) => { got.update(d); n += d.length; });
      c.on('end', resolve);
      c.on('error', reject);
      c.resume();
    });
    assert.is(n, total);
    assert.is(got.digest('hex'), sent.digest('hex'));
  });
});

test('upstream -> client half-close: the client can keep sending after the upstream ended', async () => {
  let gotFromClient!: (text: string) => void;
  const upstreamGot = new Promise<string>((resolve) => (gotFromClient = resolve));
  const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.end('bye'); // upstream finishes its side first
    s.on('data', (d) => (got += d));
    s.on('end', () => { s.destroy(); gotFromClient(got); });
  });
  await withProxy(upstream, async (p) => {
    const c = net.connect({ port: p.address().port, host: '127.0.0.1', allowHalfOpen: true });
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
    const text = await new Promise<string>((resolve) => {
      let t = '';
      c.on('data', (d) => (t += d));
      c.on('end', () => resolve(t));
    });
    assert.is(text, 'bye');
    c.end('still here');
    assert.is(await upstreamGot, 'still here');
    await closed; // the proxy closes the client once both directions ended
  });
});

test('TCP urgent data from the client: the normal bytes around it reach the upstream in order, then the end', async () => {
  // node:net cannot send MSG_OOB: the client is a raw socket on a ring of its own.
  let got = '';
  const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => (got += d));
    s.on('end', () => s.end(`got ${got}`));
  });
  await withProxy(upstream, async (p) => {
    const ring = new Ring();
    const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!, 0);
    try {
      await ring.connect(fd, native.encodeSockaddr('127.0.0.1', p.address().port)!);
      sendText(fd, 'ab');
      sendText(fd, 'X', true); // urgent, and queued before the proxy's pump may have started
      sendText(fd, 'cd');
      await until(() => got.length >= 4, 5000, 'the bytes around the first urgent byte');
      sendText(fd, 'Y', true); // urgent, mid-stream
      sendText(fd, 'ef');
      await until(() => got.length >= 6, 5000, 'the bytes after the second urgent byte');
      sendText(fd, 'Z', true); // urgent, right before the end
      native.shutdownSync(fd, K.SHUT_WR!);
      assert.is(await recvText(ring, fd, 64), 'got abcdef', 'every normal byte, in order; the urgent bytes are out of band');
    } finally {
      native.closeFd(fd);
      ring.destroy();
    }
  });
});

test('an upstream that refuses closes the client cleanly with a logged reason', async () => {
  const dead = net.createServer();
  const deadPort = await listen(dead);
  await new Promise((r) => dead.close(r)); // nothing listens there now
  const logs: string[] = [];
  const p = await createProxy({ listenHost: '127.0.0.1', listenPort: 0, upstreamHost: '127.0.0.1',
    upstreamPort: deadPort, log: (m) => logs.push(m) });
  const fdsBefore = openFds();
  const outcome = await new Promise<string>((resolve) => {
    const c = net.connect(p.address().port, '127.0.0.1');
    c.on('data', () => resolve('data?'));
    c.on('end', () => resolve('end'));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.ok(outcome === 'end' || outcome === 'ECONNRESET', outcome);
  assert.ok(logs.some((l) => l.includes('ECONNREFUSED')), logs.join('\n'));
  await new Promise((r) => setTimeout(r, 20));
  assert.is(p.connections, 0);
  assert.ok(openFds() <= fdsBefore, 'no fd left behind');
  await p.close();
});

test('a client that aborts mid-transfer leaves no fd or pipe behind', async () => {
  const upstream = net.createServer((s) => {
    const b = block(1);
    const write = (): void => { while (!s.destroyed && s.write(b)); if (!s.destroyed) s.once('drain', write); };
    s.on('error', () => undefined);
    write(); // endless stream
  });
  await withProxy(upstream, async (p, logs) => {
    const fdsBefore = openFds();
    for (let k = 0; k < 5; k++) {
      await new Promise<void>((resolve) => {
        const c = net.connect(p.address().port, '127.0.0.1');
        let n = 0;
        c.on('data', (d: Buffer) => {
          n += d.length;
          if (n > 4 * MiB) { c.resetAndDestroy(); resolve(); }
        });
        c.on('error', () => undefined);
      });
    }
    for (let i = 0; i < 100 && (p.connections > 0 || p.pipesInUse > 0); i++) await new Promise((r) => setTimeout(r, 20));
    assert.is(p.connections, 0, 'connections closed');
    assert.is(p.pipesInUse, 0, 'pipes returned or closed');
    // The upstream server in this process closes its side of each aborted connection when it sees the reset.
    // Empty pipes returned to the pool stay open for reuse (two fds each); nothing else may remain.
    const allowed = (): number => fdsBefore + 2 * p.pipesIdle;
    for (let i = 0; i < 100 && openFds() > allowed(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(openFds() <= allowed(), `fds: before ${fdsBefore}, idle pipes ${p.pipesIdle}, after ${openFds()}: ${fdList()}`);
    // The log says which socket failed: reading from the client, writing to it, or (io-wq pump) its reset watch.
    assert.ok(logs.some((l) => /(reading from|writing to) client|client socket error/.test(l)), logs.join('\n'));
  });
});

test('an upstream that dies mid-transfer closes the client cleanly; the log names the upstream; nothing is left', async () => {
  const upstream = net.createServer((s) => {
    s.on('error', () => undefined);
    s.write(block(2).subarray(0, 256 << 10), () => setTimeout(() => s.resetAndDestroy(), 50));
  });
  await withProxy(upstream, async (p, logs) => {
    const fdsBefore = openFds();
    const c = net.connect(p.address().port, '127.0.0.1');
    let got = 0;
    c.on('data', (d: Buffer) => { got += d.length; });
    const outcome = await within(new Promise<string>((resolve) => {
      c.on('end', () => resolve('end'));
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    }), 5000, 'the client sees its connection end');
    c.destroy();
    assert.ok(outcome === 'end' || outcome === 'ECONNRESET', outcome);
    assert.ok(got <= 256 << 10, `${got} bytes`);
    await until(() => p.connections === 0, 3000, 'the connection closed');
    assert.ok(logs.some((l) => /reading from upstream.*ECONNRESET|upstream socket error \(ECONNRESET\)/.test(l)), logs.join('\n'));
    const allowed = (): number => fdsBefore + 2 * p.pipesIdle;
    for (let i = 0; i < 100 && openFds() > allowed(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(openFds() <= allowed(), `fds: before ${fdsBefore}, after ${openFds()}: ${fdList()}`);
  });
});

test('an upstream that answers and half-closes without reading a stalled upload: the proxy waits without burning CPU', async () => {
  let upSock: net.Socket | undefined;
  const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
    upSock = s;
    s.pause(); // never reads the upload
    s.on('error', () => undefined);
  });
  await withProxy(upstream, async (p) => {
    const c = net.connect({ port: p.address().port, host: '127.0.0.1', allowHalfOpen: true });
    c.on('error', () => undefined);
    const answer: Buffer[] = [];
    c.on('data', (d: Buffer) => answer.push(d));
    try {
      await stallUpload(c, () => upSock !== undefined);
      upSock!.end('413 too large'); // the answer and a FIN, still not reading
      await until(() => Buffer.concat(answer).toString() === '413 too large', 3000, 'the answer');
      await new Promise((r) => setTimeout(r, 200));
      // io_uring adds POLLRDHUP to every poll: a one-shot POLLOUT wait on the half-closed upstream used to
      // complete at once, forever (a busy loop of about one core).
      const before = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 1000));
      const used = process.cpuUsage(before);
      const ms = (used.user + used.system) / 1000;
      assert.ok(ms < 300, `${ms} ms of CPU in 1 s while the upload waits for the upstream`);
    } finally {
      c.destroy();
      upSock?.destroy(); // paused, it would keep the server open
    }
    await until(() => p.connections === 0, 3000, 'the connection closed');
  }, { idleTimeoutMs: 0 });
});

test('a client that resets while its upload waits for an upstream that does not read: both sockets close promptly', async () => {
  let upSock: net.Socket | undefined;
  const upstream = net.createServer((s) => {
    upSock = s;
    s.pause();
    s.on('error', () => undefined);
  });
  await withProxy(upstream, async (p, logs) => {
    const fdsBefore = openFds();
    const c = net.connect(p.address().port, '127.0.0.1');
    c.on('error', () => undefined);
    try {
      await stallUpload(c, () => upSock !== undefined); // nothing reads the client's socket now
      c.resetAndDestroy();
      // With the idle timeout off, nothing but the reset itself can end this connection.
      for (let i = 0; i < 100 && p.connections > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.is(p.connections, 0, `the connection is still open 2 s after the client reset: ${logs.join(' | ')}`);
      assert.ok(logs.some((l) => l.includes('ECONNRESET')), logs.join('\n'));
    } finally {
      c.destroy();
      upSock?.destroy(); // paused, it would keep the server open
    }
    const allowed = (): number => fdsBefore + 2 * p.pipesIdle;
    for (let i = 0; i < 100 && openFds() > allowed(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(openFds() <= allowed(), `fds: before ${fdsBefore}, idle pipes ${p.pipesIdle}, after ${openFds()}: ${fdList()}`);
  }, { idleTimeoutMs: 0 });
});

test('idle connections are closed after the idle timeout', async () => {
  const upstream = net.createServer((s) => s.on('error', () => undefined));
  await withProxy(upstream, async (p, logs) => {
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const c = net.connect(p.address().port, '127.0.0.1');
      c.on('error', () => undefined);
      c.on('close', () => resolve());
    });
    assert.ok(Date.now() - t0 >= 100, 'not before the timeout');
    assert.ok(logs.some((l) => l.includes('idle')), logs.join('\n'));
  }, { idleTimeoutMs: 150 });
});

test('connections beyond the limit are refused; those within work', async () => {
  const upstream = net.createServer((s) => s.pipe(s));
  await withProxy(upstream, async (p, logs) => {
    const a = net.connect(p.address().port, '127.0.0.1');
    await new Promise((r) => a.once('connect', r));
    a.write('ping');
    await new Promise((r) => a.once('data', r));
    const closed = await new Promise<boolean>((resolve) => {
      const b = net.connect(p.address().port, '127.0.0.1');
      b.on('error', () => undefined);
      b.on('close', () => resolve(true));
    });
    assert.ok(closed);
    assert.ok(logs.some((l) => l.includes('refusing')), logs.join('\n'));
    a.destroy();
  }, { maxConnections: 1 });
});

test('bursts of connections all complete, and close() waits for every open one, however many came and went', async () => {
  const upstream = net.createServer((s) => { s.on('error', () => undefined); s.pipe(s); });
  await withProxy(upstream, async (p, logs) => {
    const port = p.address().port;
    const long = net.connect(port, '127.0.0.1');
    long.on('error', () => undefined);
    const longClosed = new Promise<void>((r) => long.once('close', () => r()));
    long.write('ping');
    await new Promise((r) => long.once('data', r));
    // More short connections than the 1,024 the proxy used to remember, 350 at a time: such a burst is
    // more deferred task work than one io_uring_enter runs, which used to leave the ring asleep with
    // work pending (every connection of the burst stalled until an unrelated wake-up).
    for (let batch = 0; batch < 3; batch++) {
      const states: string[] = [];
      const all = Promise.all(Array.from({ length: 350 }, (_, i) => new Promise<void>((resolve) => {
        states[i] = 'connecting';
        const c = net.connect(port, '127.0.0.1', () => { states[i] = 'connected'; c.end(); });
        c.on('error', (e: NodeJS.ErrnoException) => { states[i] += ` ${e.code}`; });
        c.on('end', () => { states[i] += ' end'; });
        c.on('close', () => { states[i] = 'closed'; resolve(); });
        c.resume();
      })));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((r) => { timer = setTimeout(() => r('late'), 5000); });
      const r = await Promise.race([all.then(() => 'ok'), late]);
      clearTimeout(timer);
      assert.is(r, 'ok', `batch ${batch}: ${states.filter((x) => x !== 'closed').length} clients not closed (first: ${states.find((x) => x !== 'closed')}); proxy has ${p.connections}; ring ${JSON.stringify(Ring.forThread().info())}; ${logs.slice(-3).join(' | ')}`);
    }
    await until(() => p.connections === 1, 5000);
    await p.close();
    assert.is(p.connections, 0, 'close() resolved with a connection still open');
    await longClosed;
  });
});

test('a Unix socket upstream: 16 MiB each way intact (sha256), half-close propagates; a missing socket is logged by path', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-unix-'));
  const sock = path.join(tmp, 'up.sock');
  const down = Buffer.concat(Array.from({ length: 256 }, (_, i) => block(1000 + i))); // 16 MiB
  const up = Buffer.concat(Array.from({ length: 256 }, (_, i) => block(2000 + i)));
  const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    const h = crypto.createHash('sha256');
    s.on('data', (d: Buffer) => h.update(d));
    s.on('end', () => s.end(Buffer.concat([down, Buffer.from(h.digest('hex'))])));
  });
  await new Promise<void>((r) => upstream.listen(sock, r));
  const logs: string[] = [];
  const p = await createProxy({ listenHost: '127.0.0.1', listenPort: 0, upstreamPath: sock, pump: PUMP,
    log: (m) => logs.push(m) });
  try {
    const c = net.connect({ port: p.address().port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    const ended = once(c, 'end');
    c.end(up); // the upstream answers only after the client's FIN came through
    await within(ended, 20_000, 'the answer');
    const back = Buffer.concat(chunks);
    const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
    assert.is(back.subarray(16 << 20).toString(), sha(up), 'the upload arrived intact');
    assert.is(sha(back.subarray(0, 16 << 20)), sha(down), 'the download arrived intact');
    c.destroy();
  } finally {
    await p.close();
    await new Promise((r) => upstream.close(r));
  }
  // Nothing listens there any more (close() removed the file): the client is closed, the log names the socket.
  const p2 = await createProxy({ listenHost: '127.0.0.1', listenPort: 0, upstreamPath: sock, log: (m) => logs.push(m) });
  try {
    const c = net.connect(p2.address().port, '127.0.0.1');
    c.on('error', () => undefined);
    await within(once(c, 'close'), 5000, 'the client closed');
    assert.ok(logs.some((l) => l.includes(`upstream unix:${sock} failed (ENOENT)`)), logs.join('\n'));
  } finally {
    await p2.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const both = await createProxy({ listenHost: '127.0.0.1', listenPort: 0, upstreamPath: sock, upstreamPort: 1 })
    .then((px) => px.close().then(() => 'started'), (e: Error) => e.message);
  assert.match(both, /not both/);
});

test('a Unix upstream whose backlog is full: clients are closed at once (EAGAIN logged), and close() returns', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-unix-full-'));
  const sock = path.join(tmp, 'full.sock');
  const lfd = native.socketSync(AF_UNIX, native.socketConstants.SOCK_STREAM!, 0); // listens, never accepts
  native.bind(lfd, unixSockaddr(sock, 'bind') as Buffer);
  native.listen(lfd, 1);
  const logs: string[] = [];
  const p = await createProxy({ listenHost: '127.0.0.1', listenPort: 0, upstreamPath: sock, pump: PUMP,
    log: (m) => logs.push(m) });
  const clients: net.Socket[] = [];
  try {
    const closed = Array.from({ length: 6 }, () => {
      const c = net.connect(p.address().port, '127.0.0.1');
      clients.push(c);
      c.on('error', () => undefined);
      return new Promise((r) => c.once('close', r));
    });
    // The backlog takes one or two connections (those wait for an accept that never comes); the rest fail.
    await within(Promise.race(closed), 3000, 'a client closed');
    assert.ok(logs.some((l) => l.includes(`upstream unix:${sock} failed (EAGAIN)`)), logs.join('\n'));
  } finally {
    for (const c of clients) c.destroy();
    await within(p.close(), 3000, 'close()');
    native.closeFd(lfd);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('command line: required flags and clear errors', () => {
  const c = parseProxyArgs(['--listen', '127.0.0.1:9000', '--upstream', '[::1]:80', '--workers', '1']);
  assert.is(c.listenPort, 9000);
  assert.is(c.upstreamHost, '::1');
  assert.throws(() => parseProxyArgs(['--upstream', 'x:1']), /--listen/);
  assert.throws(() => parseProxyArgs(['--listen', 'nohost', '--upstream', 'x:1']), /HOST:PORT/);
  assert.throws(() => parseProxyArgs(['--listen', 'a:1', '--upstream', 'x:1', '--workers', '0']), /--workers/);
  assert.is(c.pump, 'relay');
  assert.is(parseProxyArgs(['--listen', 'a:1', '--upstream', 'x:1', '--pump', 'ready']).pump, 'ready');
  assert.is(parseProxyArgs(['--listen', 'a:1', '--upstream', 'x:1', '--pump', 'io-wq']).pump, 'io-wq');
  assert.is(parseProxyArgs(['--listen', 'a:1', '--upstream', 'x:1', '--pump', 'auto']).pump, 'auto');
  assert.throws(() => parseProxyArgs(['--listen', 'a:1', '--upstream', 'x:1', '--pump', 'fast']), /--pump wants 'relay', 'ready', 'io-wq', 'copy', 'auto', got 'fast'/);
  const u = parseProxyArgs(['--listen', 'a:1', '--upstream', 'unix:/run/app.sock']);
  assert.equal([u.upstreamPath, u.upstreamHost, u.upstreamPort], ['/run/app.sock', undefined, undefined]);
  assert.throws(() => parseProxyArgs(['--listen', 'a:1', '--upstream', 'unix:']), /socket path after 'unix:'/);
  const r = runNode(`process.argv.splice(1, 0, 'proxy'); require(${JSON.stringify(path.join(__dirname, '..', 'examples', 'proxy.js'))})`,
    { args: [], timeout: 10_000 });
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--listen HOST:PORT is required/);
});

test.run();
