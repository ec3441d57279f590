/**
 * A worker_thread that is terminated, or dies of an uncaught exception, lets
 * go of the fds its runtime objects own, as node:net and node:fs/promises do:
 * listening sockets, connections, FileHandles, pooled pipes
 * (native/uring/owned_fds.cc). And the bookkeeping that makes that safe:
 * Ring.close() releases an adopted fd before closing it, keeps it adopted
 * when the close never ran, and reports a close that ran as done even when
 * its signal fired.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Ring } from '../lib/ring';
import { native } from '../lib/native';
import { adoptFd, adoptedFdCount, releaseFd } from '../lib/owned-fds';
import { fdTarget, LIB, tempDir, within } from './helpers';

let tmp: { dir: string; cleanup: () => void };
test.before(() => {
  tmp = tempDir();
  fs.writeFileSync(path.join(tmp.dir, 'data.txt'), 'hello');
});
test.after(() => tmp.cleanup());

/** 'connected', or the error code of a connect to `port` on 127.0.0.1. */
function connectOutcome(port: number): Promise<string> {
  return new Promise<string>((r) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); r('connected'); });
    s.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message));
  });
}

/** Settles when the node:net peer of a worker's connection has closed (listened for from its start). */
const peerClosed = new WeakMap<net.Socket, Promise<void>>();

interface Owned {
  port: number;
  /** [fd, link target] of every socket, pipe and file the worker's objects opened. */
  fds: Array<[number, string]>;
  adopted: number;
}

/**
 * Starts a worker that listens (net facade), connects to itself, accepts a
 * node:net client from this thread too, opens a FileHandle (fs facade) and
 * takes a pipe from the pool; then, on 'go', either waits to be terminated
 * or throws.
 */
async function ownedByWorker(end: 'terminate' | 'throw'): Promise<{ owned: Owned; peer: net.Socket; w: Worker }> {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const lib = require(${JSON.stringify(LIB)});
    const snap = () => new Map(fs.readdirSync('/proc/self/fd').map((f) => {
      try { return [Number(f), fs.readlinkSync('/proc/self/fd/' + f)]; } catch { return [Number(f), '']; }
    }));
    (async () => {
      const before = snap();
      let accepted = 0;
      let bothAccepted;
      const accepts = new Promise((r) => { bothAccepted = r; });
      const server = lib.net.createServer(() => { if (++accepted === 2) bothAccepted(); });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const port = server.address().port;
      const client = lib.net.connect(port, '127.0.0.1');
      await new Promise((r) => client.once('connect', r));
      const file = await lib.fs.open(workerData.file, 'r');
      globalThis.kept = [server, client, file]; // a collected FileHandle would close its fd itself
      lib.pipePool().acquire();
      parentPort.once('message', (m) => {
        if (m === 'peer') {
          accepts.then(() => { // its own client and this thread's peer, both accepted
            const fds = [...snap()].filter(([fd, t]) => before.get(fd) !== t && (/^(socket:|pipe:)/.test(t) || t === workerData.file));
            parentPort.postMessage({ port, fds, adopted: lib.adoptedFdCount() });
            parentPort.once('message', () => {
              if (workerData.end === 'throw') setImmediate(() => { throw new Error('worker bug'); });
            });
          });
        }
      });
      parentPort.postMessage({ port, file: file.fd });
    })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
  const w = new Worker(src, { eval: true, workerData: { file: path.join(tmp.dir, 'data.txt'), end } });
  let failure: Error | undefined;
  w.on('error', (e: Error) => { failure = e; }); // expected in the 'throw' case, after setup
  const first = await new Promise<{ port: number; error?: string }>((r) => {
    w.once('message', r);
    w.once('exit', (code) => r({ port: 0, error: `worker exited (${code}) during setup: ${failure?.stack ?? 'no error'}` }));
  });
  assert.is(first.error, undefined);
  const peer = net.connect(first.port, '127.0.0.1');
  peer.on('error', () => undefined);
  peerClosed.set(peer, new Promise<void>((r) => peer.once('close', () => r())));
  peer.resume();
  await new Promise((r) => peer.once('connect', r));
  w.postMessage('peer');
  const owned = await new Promise<Owned>((r) => w.once('message', r));
  // The worker saw this thread's end of that connection appear too: it is not the worker's.
  const peerFd = (peer as unknown as { _handle: { fd: number } })._handle.fd;
  owned.fds = owned.fds.filter(([fd]) => fd !== peerFd);
  return { owned, peer, w };
}

async function checkReleased(owned: Owned, peer: net.Socket): Promise<void> {
  // listener, self-connected client and its accepted end, this thread's connection, the file, a pipe (2 fds)
  assert.is(owned.adopted, 7, 'adopted in the worker');
  const kinds = owned.fds.map(([, t]) => (t.startsWith('socket:') ? 'socket' : t.startsWith('pipe:') ? 'pipe' : 'file'));
  assert.equal(kinds.filter((k) => k === 'socket').length, 4, owned.fds.join(' '));
  assert.equal(kinds.filter((k) => k === 'pipe').length, 2, owned.fds.join(' '));
  assert.equal(kinds.filter((k) => k === 'file').length, 1, owned.fds.join(' '));
  for (const [fd, target] of owned.fds) assert.is.not(fdTarget(fd), target, `fd ${fd} (${target}) still open`);
  // The peer sees the end of its connection; the port is free (nobody accepts there any more).
  await within(peerClosed.get(peer)!, 5000, "the peer's end of the connection");
  assert.is(await connectOutcome(owned.port), 'ECONNREFUSED');
}

test('terminating a worker closes its sockets, files and pipes: the port is free, the peer sees the end', async () => {
  const { owned, peer, w } = await ownedByWorker('terminate');
  try {
    await w.terminate();
    await checkReleased(owned, peer);
  } finally {
    peer.destroy(); // else a failure keeps this process alive
  }
});

test('a worker that dies of an uncaught exception closes them too', async () => {
  const { owned, peer, w } = await ownedByWorker('throw');
  try {
    const exited = new Promise<number>((r) => w.once('exit', r));
    w.postMessage('go');
    assert.is(await exited, 1);
    await checkReleased(owned, peer);
  } finally {
    peer.destroy();
  }
});

test("a dead worker's listening port refuses connections as soon as 'exit' fires", async () => {
  // Closing the ring only schedules the kernel's cleanup: until it ran, the multishot accept held the
  // listening socket, which went on completing handshakes (then reset them) for milliseconds.
  const src = `
    const { parentPort } = require('node:worker_threads');
    const lib = require(${JSON.stringify(LIB)});
    const server = lib.net.createServer(() => {});
    server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`;
  for (let i = 0; i < 5; i++) {
    const w = new Worker(src, { eval: true });
    const port = await new Promise<number>((r) => w.once('message', r));
    await w.terminate();
    assert.is(await connectOutcome(port), 'ECONNREFUSED', `run ${i}`);
  }
});

test('connections a busy worker never saw accepted are closed when it is terminated (no fd left behind)', async () => {
  // The worker listens, then keeps its event loop busy: connections arrive, the kernel completes their
  // accepts (or does so while the ring is torn down), but JavaScript never receives those fds. The
  // teardown must close them: else each client would wait forever, its server end open in this process.
  const src = `
    const { parentPort } = require('node:worker_threads');
    const lib = require(${JSON.stringify(LIB)});
    const server = lib.net.createServer(() => {});
    server.listen(0, '127.0.0.1', () => {
      parentPort.postMessage(server.address().port);
      parentPort.once('message', () => { for (;;); }); // busy until terminated
    });`;
  for (let run = 0; run < 3; run++) {
    const w = new Worker(src, { eval: true });
    const port = await within(new Promise<number>((r) => w.once('message', r)), 10_000, 'listen');
    w.postMessage('spin');
    const clients = Array.from({ length: 8 }, () => net.connect(port, '127.0.0.1'));
    const closed = clients.map((c) => new Promise<void>((r) => {
      c.on('error', () => undefined);
      c.once('close', () => r());
      c.resume();
    }));
    try {
      await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
      await new Promise((r) => setTimeout(r, 50)); // the kernel's accepts have had their chance to run
      await w.terminate();
      await within(Promise.all(closed), 5000, `run ${run}: every client sees its connection end`);
    } finally {
      for (const c of clients) c.destroy();
    }
  }
});

/** Clients of `port` that have not seen their connection end `ms` after `end()` ran (their server ends leaked). */
async function clientsLeftOpen(port: number, count: number, end: () => Promise<unknown>, ms = 3000): Promise<number> {
  const clients = Array.from({ length: count }, () => net.connect(port, '127.0.0.1'));
  const closed = clients.map((c) => new Promise<boolean>((r) => {
    c.on('error', () => undefined);
    c.once('close', () => r(true));
    c.resume();
  }));
  try {
    await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
    await end();
    const res = await Promise.all(closed.map((p) => Promise.race([p, new Promise<boolean>((r) => setTimeout(() => r(false), ms))])));
    return res.filter((x) => !x).length;
  } finally {
    for (const c of clients) c.destroy();
  }
}

test("a worker terminated in the middle of a batch of accepts: the connections its JavaScript never reached are closed", async () => {
  // The worker's thread sleeps until all 8 clients are connected, so their accepts reach it as one batch;
  // the first 'connection' handler never returns: the other 7 records of the batch are in the shared
  // completion array, not taken by JavaScript, when the worker is terminated.
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const lib = require(${JSON.stringify(LIB)});
    let n = 0;
    const server = lib.net.createServer(() => { if (++n === 1) for (;;); });
    server.listen(0, '127.0.0.1', () => {
      parentPort.postMessage(server.address().port);
      parentPort.once('message', () => setImmediate(() => {
        parentPort.postMessage('asleep');
        Atomics.wait(workerData, 0, 0, 10_000); // until the clients are in
      }));
    });`;
  for (let run = 0; run < 2; run++) {
    const wake = new Int32Array(new SharedArrayBuffer(4));
    const w = new Worker(src, { eval: true, workerData: wake });
    const next = (): Promise<unknown> => new Promise((r) => w.once('message', r));
    const port = await within(next(), 10_000, 'listen') as number;
    const asleep = next();
    w.postMessage('sleep');
    await within(asleep, 10_000, 'the worker asleep');
    const left = await clientsLeftOpen(port, 8, async () => {
      Atomics.store(wake, 0, 1);
      Atomics.notify(wake, 0); // all 8 connected: one batch of accepts; its first handler spins
      await new Promise((r) => setTimeout(r, 300));
      await w.terminate();
    });
    assert.is(left, 0, `run ${run}: ${left} of 8 clients never saw their connection end`);
  }
});

test('completions beyond the CQ (the overflow list) are closed too when a busy worker is terminated', async () => {
  // A one-entry CQ and six accepts in flight: the kernel keeps the CQEs that find the CQ full in its
  // overflow list, which the teardown must drain (with and without DEFER_TASKRUN).
  for (const defer of [true, false]) {
    const src = `
      const { parentPort } = require('node:worker_threads');
      const path = require('node:path');
      const { Ring } = require(path.join(${JSON.stringify(LIB)}, 'ring'));
      require(path.join(${JSON.stringify(LIB)}, 'ops-net'));
      const { native } = require(path.join(${JSON.stringify(LIB)}, 'native'));
      const { adoptFd } = require(path.join(${JSON.stringify(LIB)}, 'owned-fds'));
      const K = native.socketConstants;
      const ring = new Ring({ entries: 1, cqEntries: 1, deferTaskrun: ${defer} });
      const lfd = adoptFd(native.socketSync(K.AF_INET, K.SOCK_STREAM, 0));
      native.bind(lfd, native.encodeSockaddr('127.0.0.1', 0));
      native.listen(lfd, 64);
      for (let i = 0; i < 6; i++) ring.accept(lfd).then(adoptFd, () => {});
      setTimeout(() => {
        parentPort.postMessage(native.getsockname(lfd).port);
        parentPort.once('message', () => { for (;;); });
      }, 50);`;
    const w = new Worker(src, { eval: true });
    const port = await within(new Promise<number>((r) => w.once('message', r)), 10_000, 'listen');
    w.postMessage('spin');
    await new Promise((r) => setTimeout(r, 50));
    const left = await clientsLeftOpen(port, 10, async () => {
      await new Promise((r) => setTimeout(r, 200));
      await w.terminate();
    });
    assert.is(left, 0, `deferTaskrun ${defer}: ${left} of 10 clients never saw their connection end`);
  }
});

test('Ring.close releases an adopted fd; closeFd too; releaseFd says whether it was adopted', async () => {
  const ring = new Ring({ entries: 8 });
  try {
    const base = adoptedFdCount();
    const [r, w] = native.makePipe(0);
    adoptFd(r);
    adoptFd(w);
    assert.is(adoptedFdCount(), base + 2);
    await ring.close(r);
    assert.is(adoptedFdCount(), base + 1);
    native.closeFd(w);
    assert.is(adoptedFdCount(), base);
    const [r2, w2] = native.makePipe(0);
    adoptFd(r2);
    assert.is(releaseFd(r2), true);
    assert.is(releaseFd(r2), false);
    assert.is(releaseFd(w2), false);
    native.closeFd(r2);
    native.closeFd(w2);
    assert.throws(() => adoptFd(-1), (e: NodeJS.ErrnoException) => e.code === 'ERR_OUT_OF_RANGE');
    assert.throws(() => releaseFd(1.5), (e: NodeJS.ErrnoException) => e.code === 'ERR_OUT_OF_RANGE');
    assert.throws(() => adoptFd('3' as unknown as number), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_TYPE');
  } finally {
    ring.destroy();
  }
});

test('a close that never ran (signal already aborted, or aborted while waiting for room) keeps the fd adopted', async () => {
  const ring = new Ring({ entries: 8, cqEntries: 16 });
  const empty = Array.from({ length: 16 }, () => native.makePipe(0));
  try {
    const base = adoptedFdCount();
    const [r, w] = native.makePipe(0);
    adoptFd(r);
    adoptFd(w);
    const err = await ring.close(r, { signal: AbortSignal.abort() }).then(() => 'resolved', (e: Error) => e.name);
    assert.is(err, 'AbortError');
    assert.ok(fdTarget(r)?.startsWith('pipe:'), 'still open');
    assert.is(adoptedFdCount(), base + 2);
    // Fill the ring's in-flight cap (cqEntries) with reads that wait, so the close waits in the backlog; abort it there.
    const pending = empty.map(([er]) => ring.read(er, Buffer.alloc(1), 0, 1, -1).catch(() => 0));
    const ac = new AbortController();
    const closing = ring.close(w, { signal: ac.signal }).then(() => 'resolved', (e: Error) => e.name);
    ac.abort();
    assert.is(await closing, 'AbortError');
    assert.ok(fdTarget(w)?.startsWith('pipe:'), 'still open');
    assert.is(adoptedFdCount(), base + 2, 'adopted again');
    native.closeFd(w);
    native.closeFd(r);
    assert.is(adoptedFdCount(), base);
    for (const [, ew] of empty) native.closeFd(ew); // the reads end (EOF)
    await Promise.all(pending);
  } finally {
    ring.destroy();
    for (const [er] of empty) native.closeFd(er);
  }
});

test('a worker terminated while its close waits in the backlog for room still has the fd closed', async () => {
  // The worker fills its ring's in-flight cap with reads that never end, so ring.close(r) waits in the JavaScript
  // backlog; terminating it then must not leave r open (it used to leave the owned set before it was queued).
  const src = `
    const { parentPort } = require('node:worker_threads');
    const fs = require('node:fs');
    const { Ring } = require(${JSON.stringify(path.join(LIB, 'ring'))});
    const { native } = require(${JSON.stringify(path.join(LIB, 'native'))});
    const { adoptFd, adoptedFdCount } = require(${JSON.stringify(path.join(LIB, 'owned-fds'))});
    const ring = new Ring({ entries: 8, cqEntries: 16 });
    const fds = [];
    const pipe = () => { const p = native.makePipe(0).slice(0, 2); p.forEach((fd) => { adoptFd(fd); fds.push(fd); }); return p; };
    for (let i = 0; i < 16; i++) ring.read(pipe()[0], Buffer.alloc(1), 0, 1, -1).catch(() => 0);
    const [r] = pipe();
    const before = adoptedFdCount();
    ring.close(r).catch(() => 0);
    const links = fds.map((fd) => [fd, fs.readlinkSync('/proc/self/fd/' + fd)]);
    parentPort.postMessage({ r, links, stillAdopted: adoptedFdCount() === before });
  `;
  const w = new Worker(src, { eval: true });
  const msg = await within(new Promise<{ r: number; links: Array<[number, string]>; stillAdopted: boolean }>((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  }), 10_000, 'the worker');
  assert.ok(msg.stillAdopted, 'a queued close keeps its fd adopted');
  const rLink = msg.links.find(([fd]) => fd === msg.r)![1];
  assert.is(fdTarget(msg.r), rLink, 'the close is still waiting: r is open');
  await w.terminate();
  const open = msg.links.filter(([fd, link]) => fdTarget(fd) === link);
  assert.equal(open, [], 'no pipe of the dead worker is left open, r included');
});

test('a close the kernel ran before its signal fired resolves (the fd is gone: no AbortError inviting a retry)', async () => {
  const ring = new Ring({ entries: 8 });
  try {
    const base = adoptedFdCount();
    const [r, w] = native.makePipe(0);
    adoptFd(r);
    const ac = new AbortController();
    const closing = ring.close(r, { signal: ac.signal }).then(() => 'resolved', (e: Error) => e.name);
    ac.abort(); // the cancel goes out after the close in the same batch: a pipe's close has already run
    assert.is(await closing, 'resolved');
    assert.is(fdTarget(r), undefined, 'closed');
    assert.is(adoptedFdCount(), base);
    native.closeFd(w);
  } finally {
    ring.destroy();
  }
});

test.run();
