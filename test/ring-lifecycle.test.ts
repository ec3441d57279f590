/**
 * What the kernel holds and when: GC safety of in-flight buffers, AbortSignal
 * cancellation, destroy with operations in flight, idle exit, worker threads.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Ring } from '../lib/ring';
import { native } from '../lib/native';
import { gc, LIB, openFds, runNode, tempDir } from './helpers';

let tmp: { dir: string; cleanup: () => void };
let pattern: Buffer;
let file: string;

test.before(() => {
  tmp = tempDir();
  file = path.join(tmp.dir, 'data.bin');
  pattern = Buffer.alloc(4 << 20);
  for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE(i, i);
  fs.writeFileSync(file, pattern);
});
test.after(() => tmp.cleanup());

test('buffers in flight survive gc(): data lands in the right place', async () => {
  const ring = new Ring({ entries: 32 });
  const fd = fs.openSync(file, 'r');
  const results: Promise<[number, Uint8Array]>[] = [];
  for (let i = 0; i < 256; i++) {
    const pos = (i * 16384) % pattern.length;
    // The only reference to each buffer is inside the ring until it completes.
    results.push(((p) => {
      const b = new Uint8Array(4096);
      return ring.read(fd, b, 0, b.length, p).then((n) => [p, b.subarray(0, n)] as [number, Uint8Array]);
    })(pos));
  }
  for (let i = 0; i < 5; i++) {
    gc();
    new Array(1e5).fill(0).map((_, j) => ({ j })); // churn the young generation
  }
  gc();
  for (const [pos, data] of await Promise.all(results)) {
    assert.is(data.length, 4096);
    assert.ok(Buffer.from(data).equals(pattern.subarray(pos, pos + 4096)), `data at ${pos}`);
  }
  fs.closeSync(fd);
  ring.destroy();
});

test('AbortSignal cancels an operation in the kernel: AbortError, ring stays usable', async () => {
  const ring = new Ring({ entries: 8 });
  const ac = new AbortController();
  const p = ring.timeout(60_000, { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('user gave up')), 10);
  const t0 = Date.now();
  try {
    await p;
    assert.unreachable('should reject');
  } catch (e) {
    const err = e as Error & { code: string; cause: Error };
    assert.is(err.name, 'AbortError');
    assert.is(err.code, 'ABORT_ERR');
    assert.is(err.cause.message, 'user gave up');
  }
  assert.ok(Date.now() - t0 < 5000, 'cancelled promptly');
  assert.is(await ring.nop(), 0);
  assert.is(ring.info().inflight, 0);
  ring.destroy();
});

test('an already-aborted signal rejects without submitting', async () => {
  const ring = new Ring({ entries: 8 });
  const enters = ring.info().enters;
  const ac = new AbortController();
  ac.abort();
  try {
    await ring.nop({ signal: ac.signal });
    assert.unreachable('should reject');
  } catch (e) {
    assert.is((e as Error).name, 'AbortError');
  }
  assert.is(ring.info().inflight, 0);
  assert.is(ring.info().enters, enters);
  ring.destroy();
});

test('aborting a read from an empty pipe cancels it (a blocking op)', async () => {
  const ring = new Ring({ entries: 8 });
  const { native } = await import('../lib/native');
  const [r, w] = native.makePipe(0);
  const ac = new AbortController();
  const b = Buffer.alloc(10);
  const p = ring.read(r, b, 0, 10, -1, { signal: ac.signal });
  await ring.nop(); // make sure it is in the kernel
  ac.abort();
  try {
    await p;
    assert.unreachable('should reject');
  } catch (e) {
    assert.is((e as Error).name, 'AbortError');
  }
  // the pipe still works after the cancelled read
  fs.writeSync(w, 'ok');
  assert.is(await ring.read(r, b, 0, 10, -1), 2);
  native.closeFd(r);
  native.closeFd(w);
  ring.destroy();
});

test('an open that completes although it was aborted does not leak its fd', async () => {
  const ring = new Ring({ entries: 8 });
  await ring.nop();
  const before = openFds();
  for (let i = 0; i < 20; i++) {
    const ac = new AbortController();
    const p = ring.open(file, fs.constants.O_RDONLY, 0o666, { signal: ac.signal });
    ac.abort(); // same turn: the open runs inline at submit, before the cancel can catch it
    await p.then(() => assert.unreachable('should reject'), (e: Error) => assert.is(e.name, 'AbortError'));
  }
  assert.is(openFds(), before, 'every fd the kernel opened was closed');
  ring.destroy();
});

test('a linked chain with an aborted signal is not submitted at all', async () => {
  const ring = new Ring({ entries: 8 });
  const ac = new AbortController();
  ac.abort();
  const enters = ring.info().enters;
  await ring.submitLinked([{ opcode: 0, syscall: 'nop' }, { opcode: 0, syscall: 'nop', signal: ac.signal }])
    .then(() => assert.unreachable('should reject'), (e: Error) => assert.is(e.name, 'AbortError'));
  assert.is(ring.info().inflight, 0);
  assert.is(ring.info().enters, enters);
  assert.equal(await ring.submitLinked([{ opcode: 0, syscall: 'nop' }, { opcode: 0, syscall: 'nop' }]), [0, 0]);
  ring.destroy();
});

/** Reads from an empty pipe: capped operations that wait until aborted (timeouts and socket ops are not capped). */
function emptyPipe(): { readFd: number; close(): void } {
  const [r, w] = native.makePipe(4096);
  return { readFd: r, close: () => { native.closeFd(r); native.closeFd(w); } };
}

test('aborting queued (backlogged) operations never submits them', async () => {
  const ring = new Ring({ entries: 2, cqEntries: 2 });
  const ac = new AbortController();
  const pipe = emptyPipe();
  const ps = Array.from({ length: 10 }, () => ring.read(pipe.readFd, Buffer.alloc(1), 0, 1, null, { signal: ac.signal }));
  assert.ok(ring.info().queued > 0, 'some are queued in JS');
  ac.abort();
  const settled = await Promise.allSettled(ps);
  for (const s of settled) {
    assert.is(s.status, 'rejected');
    assert.is((s as PromiseRejectedResult).reason.name, 'AbortError');
  }
  assert.is(ring.info().queued, 0);
  ring.destroy();
  pipe.close();
});

test('destroy cancels what is in flight with ECANCELED and frees no fd it should not', async () => {
  const before = openFds();
  const ring = new Ring({ entries: 4, cqEntries: 8 });
  const pipe = emptyPipe();
  const ps = Array.from({ length: 20 }, () => ring.read(pipe.readFd, Buffer.alloc(1), 0, 1, null)); // 8 in flight, 12 queued
  assert.is(ring.info().inflight, 8);
  assert.is(ring.info().queued, 12);
  const t0 = Date.now();
  ring.destroy();
  assert.ok(Date.now() - t0 < 3000, 'destroy does not hang');
  const settled = await Promise.allSettled(ps);
  for (const s of settled) {
    assert.is(s.status, 'rejected');
    const err = (s as PromiseRejectedResult).reason as { code: string; errno: number };
    assert.is(err.code, 'ECANCELED');
    assert.is(err.errno, -125);
  }
  pipe.close();
  assert.is(openFds(), before, 'ring fd and eventfd closed');
});

test('destroy from inside a completion callback settles everything promptly', async () => {
  const ring = new Ring({ entries: 8 });
  const pending = [ring.timeout(60_000), ring.timeout(60_000)];
  const t0 = Date.now();
  await ring.nop();
  ring.destroy(); // runs inside the completion batch's microtasks
  const settled = await Promise.allSettled(pending);
  assert.equal(settled.map((s) => (s as PromiseRejectedResult).reason.code), ['ECANCELED', 'ECANCELED']);
  assert.ok(Date.now() - t0 < 1000, 'no wait for a timeout');
});

test('a script with one operation in flight finishes it and exits by itself', () => {
  const script = `
    const { Ring } = require(${JSON.stringify(LIB)});
    const ring = new Ring();
    ring.timeout(150).then(() => console.log('done'));`;
  const t0 = Date.now();
  const r = runNode(script, { timeout: 10_000 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'done');
  assert.ok(Date.now() - t0 < 8000);
});

test('an idle ring does not keep the process alive', () => {
  const r = runNode(`
    const { Ring } = require(${JSON.stringify(LIB)});
    const ring = new Ring();
    ring.nop().then(() => console.log('idle now'));`, { timeout: 10_000 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.signal, null, 'exited by itself, not killed by the timeout');
  assert.is(r.stdout.trim(), 'idle now');
});

test('two worker threads each get their own ring and work in parallel', async () => {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const { Ring } = require(${JSON.stringify(LIB)});
    (async () => {
      const ring = new Ring({ entries: 16 });
      const fd = await ring.open(workerData.file, fs.constants.O_RDONLY);
      const b = Buffer.alloc(4);
      let sum = 0;
      for (let i = 0; i < 200; i++) {
        await ring.read(fd, b, 0, 4, i * 4);
        sum += b.readUInt32LE(0);
      }
      await ring.close(fd);
      parentPort.postMessage({ sum, ringFd: ring.info().fd });
      // keep the ring open until the parent has seen both, so the fds are comparable
      parentPort.once('message', () => { ring.destroy(); parentPort.close(); });
    })().catch((e) => parentPort.postMessage({ error: String(e) }));`;
  const workers: Worker[] = [];
  const run = () => new Promise<{ sum: number; ringFd: number; error?: string }>((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: { file } });
    workers.push(w);
    w.once('message', resolve);
    w.once('error', reject);
  });
  const [a, b] = await Promise.all([run(), run()]);
  for (const w of workers) w.postMessage('done');
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  assert.is(a.error, undefined);
  assert.is(b.error, undefined);
  let expect = 0;
  for (let i = 0; i < 200; i++) expect += i * 4;
  assert.is(a.sum, expect);
  assert.is(b.sum, expect);
  assert.is.not(a.ringFd, b.ringFd, 'distinct rings');
});

test('a worker that exits with operations in flight does not crash the process', async () => {
  const src = `
    const { Ring } = require(${JSON.stringify(LIB)});
    const ring = new Ring();
    ring.timeout(60000).catch(() => {});
    require('node:worker_threads').parentPort.postMessage('armed');`;
  await new Promise<void>((resolve, reject) => {
    const w = new Worker(src, { eval: true });
    w.once('message', () => void w.terminate().then(() => resolve(), reject));
    w.once('error', reject);
  });
  const ring = new Ring();
  assert.is(await ring.nop(), 0, 'main thread ring still fine');
  ring.destroy();
});

test('terminating a worker while its completions arrive does not abort the process', () => {
  // The worker's ops complete while it is being torn down: the completion
  // callback then cannot run, and must not turn that into a fatal error.
  const script = `
    const { Worker } = require('node:worker_threads');
    const body = \`
      const { Ring } = require(\${JSON.stringify(${JSON.stringify(LIB)})});
      const r = new Ring();
      for (let i = 0; i < 64; i++) r.nop().catch(() => {});
      require('node:worker_threads').parentPort.postMessage('x');\`;
    (async () => {
      let n = 0;
      for (let i = 0; i < 8; i++) {
        const w = new Worker(body, { eval: true });
        await new Promise((r) => w.once('message', r));
        await w.terminate();
        n++;
      }
      console.log(n + ' terminated');
    })();`;
  const r = runNode(script, { timeout: 60000 });
  assert.is(r.stderr.includes('FATAL'), false, r.stderr);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), '8 terminated');
});

test.run();
