/**
 * Server lifecycle against node:net's own behaviour (Node 20): close() while
 * listen() is pending, close() twice, listen() twice, listen() after close(),
 * close() while connections are arriving, address() after close. Every test
 * runs on both backends; with URING_BACKEND=node the facade hands out
 * node:net servers, so that run checks that the assertions describe what
 * node:net really does.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeNet from 'node:net';
import * as net from '../lib/net';
import { fdCount, once, until, forcedFallback, testWithFallback, fdList, freePort } from './net-helpers';
import { LIB, runNode } from './helpers';

/** Open fds when the current test started (set before each test, so one test's leak fails only that test). */
let baseline = 0;
/** Open fds once the shared state (node:net's and the ring's) exists. */
let initial = 0;

/** Whether a node:net server can bind `port` now: 'bound' or the error code. */
function canBind(port: number, host?: string): Promise<string> {
  return new Promise((resolve) => {
    const s = nodeNet.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen(port, host, () => s.close(() => resolve('bound')));
  });
}

/** Connects to 127.0.0.1:`port` and returns everything the server sends before closing. */
async function readAll(port: number): Promise<string> {
  const c = nodeNet.connect(port, '127.0.0.1');
  let got = '';
  c.on('data', (d: Buffer) => (got += d.toString()));
  await once(c, 'close');
  return got;
}

/** Records the server's 'listening', 'close' and 'error' events in order. */
function record(srv: net.Server): string[] {
  const log: string[] = [];
  srv.on('listening', () => log.push('listening'));
  srv.on('close', () => log.push('close'));
  srv.on('error', (e: NodeJS.ErrnoException) => log.push(`error ${e.code}`));
  return log;
}

/** A few turns of the event loop, enough for any late 'listening' to show up. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

type CloseResult = string;
/** close(cb) with the callback's outcome as 'ok' or the error code. */
function closeCb(srv: net.Server, into: CloseResult[]): void {
  srv.close((err?: Error) => into.push(err ? (err as NodeJS.ErrnoException).code ?? err.message : 'ok'));
}

test.before(async () => {
  await canBind(await freePort()); // warm up node:net (the tests use it as a peer)
  net.createServer(); // creates the facade's ring (its fds stay for the thread's life)
  initial = fdCount();
});

test.before.each(() => {
  baseline = fdCount();
});

// node:net creates and binds the handle synchronously when no host is given, so
// close() in the same tick finds it: the callback gets no error, 'listening'
// never fires (emitListeningNT sees the handle gone), and the port is free.
test('listen(port) then close(cb) in the same tick: no listening, cb without error, port free at close', async () => {
  const port = await freePort();
  const srv = net.createServer();
  const log = record(srv);
  const cbs: CloseResult[] = [];
  srv.listen(port);
  closeCb(srv, cbs);
  assert.is(srv.listening, false);
  assert.is(srv.address(), null);
  await once(srv, 'close');
  assert.is(fdCount(), baseline, 'the listening socket is closed when close fires');
  assert.is(await canBind(port), 'bound', 'the port is free when close fires');
  await settle();
  assert.equal(log, ['close']);
  assert.equal(cbs, ['ok']);
  assert.is(srv.listening, false);
  assert.is(srv.address(), null);
  assert.is(await canBind(port), 'bound');
  assert.is(fdCount(), baseline);
});

// With a host node:net looks it up first (dns.lookup, even for an IP literal),
// so close() in the same tick finds no handle: ERR_SERVER_NOT_RUNNING, and the
// lookup's result is dropped (the listen never binds).
for (const host of ['127.0.0.1', 'localhost']) {
  test(`listen(port, '${host}') then close(cb) in the same tick: never binds, cb gets ERR_SERVER_NOT_RUNNING`, async () => {
    const port = await freePort();
    const srv = net.createServer();
    const log = record(srv);
    const cbs: CloseResult[] = [];
    srv.listen(port, host);
    closeCb(srv, cbs);
    await once(srv, 'close');
    await settle();
    assert.equal(log, ['close']);
    assert.equal(cbs, ['ERR_SERVER_NOT_RUNNING']);
    assert.is(srv.listening, false);
    assert.is(srv.address(), null);
    assert.is(await canBind(port, '127.0.0.1'), 'bound');
    assert.is(await canBind(port), 'bound');
    assert.is(fdCount(), baseline);
  });
}

test('listen then close in the same tick lets the process exit', () => {
  for (const host of ['', ', "127.0.0.1"']) {
    const r = runNode(`
      const net = require(${JSON.stringify(`${LIB}/net`)});
      const srv = net.createServer();
      srv.on('listening', () => console.log('listening'));
      srv.on('close', () => console.log('close'));
      srv.listen(0${host});
      srv.close((err) => console.log('cb', err ? err.code : 'ok'));
    `, { timeout: 10_000 });
    assert.is(r.signal, null, `listen(0${host}) + close(): the process did not exit on its own`);
    assert.is(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n'), ['close', host ? 'cb ERR_SERVER_NOT_RUNNING' : 'cb ok'], r.stdout);
  }
});

// node:net: the second close() finds no handle (ERR_SERVER_NOT_RUNNING) and, with
// no connections open, schedules a second 'close'. Both callbacks run on the first.
test('close() twice: first cb ok, second ERR_SERVER_NOT_RUNNING, two close events, socket gone at the first', async () => {
  for (const host of [undefined, '127.0.0.1']) {
    const port = await freePort();
    const srv = net.createServer();
    srv.listen(port, host);
    await once(srv, 'listening');
    const log = record(srv);
    const cbs: CloseResult[] = [];
    let fdsAtFirstClose = -1;
    srv.once('close', () => (fdsAtFirstClose = fdCount()));
    closeCb(srv, cbs);
    closeCb(srv, cbs);
    await once(srv, 'close');
    assert.is(fdsAtFirstClose, baseline, 'the listening socket is closed when the first close fires');
    assert.is(await canBind(port, host), 'bound');
    await settle();
    assert.equal(log, ['close', 'close'], `host ${host}`);
    assert.equal(cbs, ['ok', 'ERR_SERVER_NOT_RUNNING']);
    // A third close() after 'close' is the same as closing a server that never listened.
    const late: CloseResult[] = [];
    closeCb(srv, late);
    await once(srv, 'close');
    assert.equal(late, ['ERR_SERVER_NOT_RUNNING']);
  }
  assert.is(fdCount(), baseline);
});

test('close() on a server that never listened: cb gets ERR_SERVER_NOT_RUNNING, one close event', async () => {
  const srv = net.createServer();
  const log = record(srv);
  const cbs: CloseResult[] = [];
  closeCb(srv, cbs);
  await once(srv, 'close');
  await settle();
  assert.equal(log, ['close']);
  assert.equal(cbs, ['ERR_SERVER_NOT_RUNNING']);
});

test('listen() on a listening server throws ERR_SERVER_ALREADY_LISTEN (same tick and later) and changes nothing', async () => {
  const srv = net.createServer((s) => s.end('hi'));
  const log = record(srv);
  srv.listen(0);
  const port = (srv.address() as net.AddressInfo).port; // bound in this tick, as node:net does without a host
  assert.throws(() => srv.listen(0), (e: NodeJS.ErrnoException) => e.code === 'ERR_SERVER_ALREADY_LISTEN');
  await once(srv, 'listening');
  assert.throws(() => srv.listen(port), (e: NodeJS.ErrnoException) => e.code === 'ERR_SERVER_ALREADY_LISTEN');
  assert.throws(() => srv.listen({ port: 0, host: '127.0.0.1' }), (e: NodeJS.ErrnoException) => e.code === 'ERR_SERVER_ALREADY_LISTEN');
  await settle();
  assert.equal(log, ['listening']);
  assert.is(fdCount(), baseline + 1, 'one listening socket');
  assert.is((srv.address() as net.AddressInfo).port, port);
  assert.is(await readAll(port), 'hi');
  await new Promise((r) => srv.close(r));
  assert.is(fdCount(), baseline);
});

// With a host the handle only exists after the lookup; node:net lets a second
// listen() replace the pending one (the first lookup's result is dropped).
test('listen(0, host) twice in the same tick: the second replaces the first, one socket, one listening', async () => {
  const srv = net.createServer();
  const log = record(srv);
  srv.listen(0, '127.0.0.1');
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  await settle();
  assert.equal(log, ['listening']);
  assert.is(fdCount(), baseline + 1, fdList().join(' '));
  await new Promise((r) => srv.close(r));
  await settle();
  assert.equal(log, ['listening', 'close']);
  assert.is(fdCount(), baseline);
});

test('listen() after close() on the same port: in the same tick and after close fired', async () => {
  const port = await freePort();
  const srv = net.createServer((s) => s.end('again'));
  const log = record(srv);
  srv.listen(port);
  await once(srv, 'listening');
  const cbs: CloseResult[] = [];
  closeCb(srv, cbs);
  srv.listen(port); // same tick: node:net has already released the old handle
  await until(() => log.includes('close') && log.includes('listening', 1), 5000, 'close and listening');
  assert.equal(log, ['listening', 'close', 'listening']);
  assert.equal(cbs, ['ok']);
  assert.is((srv.address() as net.AddressInfo).port, port);
  assert.is(fdCount(), baseline + 1, 'one listening socket');
  assert.is(await readAll(port), 'again');
  // After 'close' has fired.
  await new Promise((r) => srv.close(r));
  srv.listen(port, '127.0.0.1');
  await once(srv, 'listening');
  assert.equal(srv.address(), { address: '127.0.0.1', family: 'IPv4', port });
  await new Promise((r) => srv.close(r));
  assert.is(fdCount(), baseline);
  assert.is(await canBind(port), 'bound');
});

test('the port is free as soon as close() returns, as with node:net', async () => {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const closed = once(srv, 'close');
  srv.close();
  // Same tick: another server binds the port at once.
  const other = nodeNet.createServer();
  const bound = await new Promise<string>((resolve) => {
    other.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    other.listen(port, '127.0.0.1', () => resolve('bound'));
  });
  await new Promise((r) => other.close(r));
  await closed;
  assert.is(bound, 'bound');
});

test('unref(): a listening server alone does not keep the process alive; ref() undoes it', () => {
  const lib = JSON.stringify(`${LIB}/net`);
  const exits = (body: string): { exited: boolean; out: string } => {
    const r = runNode(`const net = require(${lib}); process.on('exit', () => console.log('exited')); ${body}`,
      { timeout: 3000 });
    return { exited: r.status === 0 && r.stdout.includes('exited'), out: r.stdout + r.stderr };
  };
  const after = exits(`const s = net.createServer(); s.listen(0, '127.0.0.1', () => s.unref());`);
  assert.ok(after.exited, `unref after listening: ${after.out}`);
  const before = exits(`const s = net.createServer(); s.unref(); s.listen(0, '127.0.0.1');`);
  assert.ok(before.exited, `unref before listen: ${before.out}`);
  const reffed = exits(`const s = net.createServer(); s.listen(0, '127.0.0.1', () => { s.unref(); s.ref(); });`);
  assert.is(reffed.exited, false, 'ref() after unref(): still listening at the timeout');
});

test('address() is null once close() is called, and stays null', async () => {
  const srv = net.createServer();
  assert.is(srv.address(), null, 'before listen');
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address() as net.AddressInfo;
  assert.is(addr.address, '127.0.0.1');
  assert.ok(addr.port > 0);
  assert.is(srv.listening, true);
  srv.close();
  assert.is(srv.address(), null, 'right after close()');
  assert.is(srv.listening, false);
  await once(srv, 'close');
  assert.is(srv.address(), null, 'after close fired');
  assert.is(srv.listening, false);
});

// node:net stops accepting the moment close() runs: connections still in the
// kernel's queue are reset, no 'connection' follows, and every client hears
// something (served, reset or refused); 'close' waits for the accepted ones.
test('close() while connections are arriving: no connection after close, no client left hanging', async () => {
  const N = 60;
  let closedAt = -1;
  let accepted = 0;
  let afterClose = 0;
  const serverSockets: net.Socket[] = [];
  const srv = net.createServer((s) => {
    accepted++;
    if (closedAt >= 0) afterClose++;
    serverSockets.push(s);
    s.on('error', () => undefined);
    if (accepted === 5) {
      closedAt = accepted;
      srv.close((err) => cbs.push(err ? 'error' : 'ok'));
    }
  });
  const cbs: string[] = [];
  const log = record(srv);
  srv.listen(0, '127.0.0.1', 20);
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const outcomes: string[] = [];
  const clients = Array.from({ length: N }, () => {
    const c = nodeNet.connect(port, '127.0.0.1');
    let outcome = 'closed';
    c.on('error', (e: NodeJS.ErrnoException) => (outcome = e.code ?? 'error'));
    c.on('close', () => outcomes.push(outcome));
    c.resume();
    return c;
  });
  await until(() => closedAt >= 0, 5000, 'five connections');
  // The accepted ones are still open: 'close' waits for them.
  await settle();
  assert.equal(log, ['listening']);
  assert.is(afterClose, 0, 'no connection event after close()');
  for (const s of serverSockets) s.end();
  await once(srv, 'close');
  assert.equal(cbs, ['ok']);
  await until(() => outcomes.length === N, 10_000, `all ${N} clients to close (${outcomes.length})`);
  assert.is(afterClose, 0);
  assert.is(accepted, 5);
  for (const c of clients) assert.ok(c.destroyed);
  assert.ok(outcomes.every((o) => ['closed', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(o)), outcomes.join(' '));
  assert.is(await canBind(port, '127.0.0.1'), 'bound');
  assert.is(fdCount(), baseline, fdList().join(' '));
});

test('Symbol.asyncDispose closes a listening server and ignores one that is not', async () => {
  const srv = net.createServer();
  await srv[Symbol.asyncDispose](); // not listening: resolves, no close event needed
  srv.listen(0);
  await once(srv, 'listening');
  await srv[Symbol.asyncDispose]();
  assert.is(srv.listening, false);
  assert.is(fdCount(), baseline);
});

test('listen() on a destroyed ring: an error, no socket kept, and close() still works', async () => {
  if (forcedFallback) return; // node:net has no ring
  const { Ring } = await import('../lib/ring');
  const ring = new Ring();
  ring.destroy();
  const before = fdCount();
  const server = net.createServer({ ring } as net.ServerOptions);
  const errored = new Promise<Error>((r) => server.once('error', r));
  server.listen(0, '127.0.0.1');
  const err = await errored;
  assert.ok(err instanceof Error, 'listen reports an error');
  assert.is(server.listening, false);
  assert.is(server.address(), null);
  assert.is(fdCount(), before, 'the socket it made is closed');
  const closed = await new Promise<NodeJS.ErrnoException | undefined>((r) => server.close((e) => r(e as NodeJS.ErrnoException)));
  assert.is(closed?.code, 'ERR_SERVER_NOT_RUNNING');
});

test('no fd left open', async () => {
  await until(() => fdCount() <= initial, 3000, `fd count back to ${initial}`).catch(() => undefined);
  assert.is(fdCount(), initial, fdList().join(' '));
});

testWithFallback(test, 'net-server-lifecycle.test.js');

test.run();
