/**
 * fs.readFile results of 128 KiB and more come from recycled native chunks
 * (lib/fs/recycled.ts, native/uring/bigbuf.cc). These tests pin what a user
 * relies on: the bytes are the file's, a result still held is never reused
 * underneath its owner, released memory is reused and then given back, and
 * the process can still exit and transfer results to workers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as crypto from 'node:crypto';
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as fs from '../lib/fs';
import { native } from '../lib/native';
import { recycledBytes, RECYCLING } from '../lib/fs/recycled';
import { gc, LIB, runNode, tempDir } from './helpers';

const { dir, cleanup } = tempDir('uring-recycled-');
const MIN = native.recycledMinBytes;

function file(name: string, size: number): { p: string; data: Buffer } {
  const data = crypto.randomBytes(size);
  const p = path.join(dir, name);
  nodeFs.writeFileSync(p, data);
  return { p, data };
}

/** gc(), then a loop turn so the Buffers' finalizers (posted by Node) have run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

test.after(cleanup);

test('sizes around the recycled classes read byte for byte', async () => {
  for (const size of [MIN - 1, MIN, MIN + 1, 1 << 20, (1 << 20) + 1, 3 * 1024 * 1024 + 123]) {
    const { p, data } = file(`s${size}`, size);
    for (let round = 0; round < 3; round++) { // later rounds get recycled memory
      const got = await fs.readFile(p);
      assert.is(got.length, size);
      assert.ok(got.equals(data), `size ${size} round ${round}`);
      await collect();
    }
  }
});

test('a result that is still held is never handed out again', async () => {
  const a = file('held', 1 << 20);
  const held = await fs.readFile(a.p);
  const others = Array.from({ length: 8 }, (_, i) => file(`other${i}`, 1 << 20));
  for (let round = 0; round < 4; round++) {
    await Promise.all(others.map((o) => fs.readFile(o.p))); // results dropped at once
    await collect();
  }
  assert.ok(held.equals(a.data), 'the held result still has its own file bytes');
});

test('released results are reused, and idle memory is given back', async () => {
  nodeFs.writeFileSync(path.join(dir, 'reuse'), crypto.randomBytes(1 << 20));
  native.recycledTrim(0);
  await Promise.all(Array.from({ length: 4 }, () => fs.readFile(path.join(dir, 'reuse'))));
  await collect();
  const idle = recycledBytes().idle;
  assert.ok(idle >= 4 << 20, `the four released results are idle for reuse (${idle} bytes)`);
  const again = await fs.readFile(path.join(dir, 'reuse'));
  assert.is(recycledBytes().idle, idle - (1 << 20), 'the next read took one of them');
  assert.is(again.length, 1 << 20);
  const [left] = native.recycledTrim(0);
  assert.is(left, 0, 'trim gives every idle chunk back');
});

test('the trim timer does not keep the process alive, and it unmaps idle chunks', () => {
  // One result stays referenced, so the timer keeps rescheduling itself (every 10 s while
  // chunks are in use); the process must still exit as soon as its own work is done.
  const script = `
    const fs = require(${JSON.stringify(path.join(LIB, 'fs'))});
    const { native } = require(${JSON.stringify(path.join(LIB, 'native'))});
    const f = ${JSON.stringify(path.join(dir, 'reuse'))};
    (async () => {
      globalThis.keep = await fs.readFile(f);
      await fs.readFile(f);
      for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setImmediate(r)); }
      const before = native.recycledTrim(1e12)[0];
      setTimeout(() => { console.log(before, native.recycledTrim(1e12)[0]); }, 2500);
    })();`;
  const t0 = Date.now();
  const r = runNode(script, { args: ['--expose-gc'], timeout: 15000 });
  assert.is(r.status, 0, r.stderr);
  const [before, after] = r.stdout.trim().split(' ').map(Number);
  assert.ok(before! >= 1 << 20, `idle after release: ${before}`);
  assert.is(after, 0, 'unmapped by the timer');
  assert.ok(Date.now() - t0 < 8000, `exited on its own after its last timer (${Date.now() - t0} ms)`);
});

test('a worker terminated with I/O in flight: its chunks are parked, never reused; without I/O they are reused', async () => {
  const f = file('worker', 1 << 20);
  const run = async (withIo: boolean): Promise<{ idle: number; parked: number }> => {
    native.recycledTrim(0);
    const parked0 = recycledBytes().parked;
    const w = new Worker(`
      const fs = require(${JSON.stringify(path.join(LIB, 'fs'))});
      const { Ring } = require(${JSON.stringify(path.join(LIB, 'ring'))});
      const { parentPort } = require('node:worker_threads');
      fs.readFile(${JSON.stringify(f.p)}).then((b) => {
        globalThis.keep = b; // referenced until the worker dies
        if (${withIo}) new Ring().timeout(60000).catch(() => {}); // an operation left in the kernel
        parentPort.postMessage('ready');
      });`, { eval: true });
    await new Promise((r) => w.once('message', r));
    await w.terminate();
    const now = recycledBytes();
    return { idle: now.idle, parked: now.parked - parked0 };
  };
  const quiet = await run(false);
  assert.is(quiet.parked, 0);
  assert.ok(quiet.idle >= 1 << 20, 'a chunk with no I/O possible comes back for reuse');
  const busy = await run(true);
  assert.ok(busy.parked >= 1 << 20, `the chunk is parked (${busy.parked})`);
  assert.is(busy.idle, 0, 'nothing from that worker is offered for reuse');
  native.recycledTrim(0);
});

test('a readFile result listed in postMessage\'s transfer list reaches the worker intact', async () => {
  // Node 20: a recycled result is copied (the sender keeps it); on Node 21+ recycling is off
  // (an untransferable buffer would throw DataCloneError there) and the result moves as node:fs's.
  const { p, data } = file('xfer', 1 << 20);
  const buf = await fs.readFile(p);
  const w = new Worker(`require('node:worker_threads').parentPort.once('message', (m) => {
    require('node:worker_threads').parentPort.postMessage(require('node:crypto').createHash('sha256').update(new Uint8Array(m)).digest('hex'));
  });`, { eval: true });
  try {
    const ab = buf.buffer as ArrayBuffer;
    w.postMessage(ab, [ab]);
    const [digest] = await new Promise<unknown[]>((resolve, reject) => {
      w.once('message', (m) => resolve([m]));
      w.once('error', reject);
    });
    assert.is(digest, crypto.createHash('sha256').update(data).digest('hex'));
    if (RECYCLING) assert.ok(buf.equals(data), 'Node 20: the sender keeps an intact copy');
    else assert.is(buf.length, 0, 'moved, as a node:fs result');
  } finally {
    await w.terminate();
  }
});

test.run();
