import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Ring } from '../lib/ring';
import { BufferPool, FixedBuffer } from '../lib/buffers';
import '../lib/ops-fixed';
import { PipePool } from '../lib/pipes';
import { diskTmpDir } from './zc-helpers';

const dir = diskTmpDir('uring-buffers-');
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('writeFixed then readFixed round-trips data through registered buffers', async () => {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: 4, size: 8192 });
  const file = path.join(dir, 'roundtrip');
  const fd = fs.openSync(file, 'w+');
  try {
    const data = randomBytes(8192 + 100);
    const a = pool.acquire();
    const b = pool.acquire();
    assert.is.not(a.index, b.index);
    assert.is(a.buffer.length, 8192);
    data.copy(a.buffer, 0, 0, 8192);
    data.copy(b.buffer, 0, 8192);
    assert.is(await ring.writeFixed(fd, a, 0, 8192, 0), 8192);
    assert.is(await ring.writeFixed(fd, b, 0, 100, 8192), 100);
    assert.ok(fs.readFileSync(file).equals(data), 'file holds what was written');
    a.buffer.fill(0);
    b.buffer.fill(0);
    // Read at an offset inside the buffer and past the end of the file (short read).
    assert.is(await ring.readFixed(fd, a, 100, 8000, 0), 8000);
    assert.ok(a.buffer.subarray(100, 8100).equals(data.subarray(0, 8000)));
    assert.is(await ring.readFixed(fd, b, 0, 4096, 8192), 100, 'short read at end of file');
    assert.ok(b.buffer.subarray(0, 100).equals(data.subarray(8192)));
    assert.is(await ring.readFixed(fd, b, 0, 4096, 1 << 20), 0, 'read past the end');
    pool.release(a);
    pool.release(b);
    assert.is(pool.available, 4);
  } finally {
    fs.closeSync(fd);
    pool.close();
    ring.destroy();
  }
});

test('buffers are aligned as asked and the pool hands out each index once', () => {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: 8, size: 16384, alignment: 16384 });
  try {
    const got = [];
    for (let i = 0; i < 8; i++) got.push(pool.acquire());
    assert.equal(new Set(got.map((f) => f.index)).size, 8);
    for (const f of got) assert.is(pool.addressLow(f.index) % 16384, 0, `buffer ${f.index} aligned`);
    assert.throws(() => pool.acquire(), (e: Error & { code: string }) => e.code === 'ERR_BUFFER_POOL_EXHAUSTED');
    pool.release(got[3]!);
    assert.is(pool.acquire().index, got[3]!.index);
  } finally {
    pool.close();
    ring.destroy();
  }
});

test('bad options are refused with errors naming the option', () => {
  const ring = new Ring();
  try {
    assert.throws(() => new BufferPool(ring, { count: 0, size: 4096 }), /options\.count/);
    assert.throws(() => new BufferPool(ring, { count: 1, size: 4096, alignment: 3000 }), /power of two/);
    assert.throws(() => new BufferPool(ring, { count: 1, size: 5000 }), /multiple of options\.alignment/);
    const pool = new BufferPool(ring, { count: 1, size: 4096 });
    assert.throws(() => new BufferPool(ring, { count: 1, size: 4096 }),
      (e: Error & { code: string }) => e.code === 'ERR_BUFFERS_ALREADY_REGISTERED');
    pool.close();
    // After close the ring can register again.
    new BufferPool(ring, { count: 1, size: 4096 }).close();
  } finally {
    ring.destroy();
  }
});

test('double release, foreign buffers and use after release are refused', async () => {
  const ring = new Ring();
  const ring2 = new Ring();
  const pool = new BufferPool(ring, { count: 2, size: 4096 });
  const other = new BufferPool(ring2, { count: 2, size: 4096 });
  const fd = fs.openSync(path.join(dir, 'errors'), 'w+');
  try {
    const fb = pool.acquire();
    pool.release(fb);
    assert.ok(fb.released);
    assert.throws(() => pool.release(fb), (e: Error & { code: string }) =>
      e.code === 'ERR_FIXED_BUFFER_RELEASED' && /already released/.test(e.message));
    assert.throws(() => ring.readFixed(fd, fb, 0, 4096, 0), (e: Error & { code: string }) =>
      e.code === 'ERR_FIXED_BUFFER_RELEASED');
    assert.throws(() => ring.writeFixed(fd, fb, 0, 4096, 0), (e: Error & { code: string }) =>
      e.code === 'ERR_FIXED_BUFFER_RELEASED');
    // The same index handed out again is a new FixedBuffer; the stale one stays refused.
    const again = pool.acquire();
    assert.is(again.index, fb.index);
    assert.throws(() => ring.readFixed(fd, fb, 0, 10, 0), /released/);
    const foreign = other.acquire();
    assert.throws(() => pool.release(foreign), (e: Error & { code: string }) => e.code === 'ERR_FIXED_BUFFER_FOREIGN');
    assert.throws(() => ring.readFixed(fd, foreign, 0, 10, 0), (e: Error & { code: string }) =>
      e.code === 'ERR_FIXED_BUFFER_FOREIGN');
    assert.throws(() => ring.readFixed(fd, again, 0, 4097, 0), /length/);
    assert.throws(() => ring.readFixed(fd, again, 4097, 0, 0), /offset/);
    assert.throws(() => ring.readFixed(fd, { buffer: Buffer.alloc(10), index: 0 } as unknown as FixedBuffer, 0, 1, 0),
      /FixedBuffer/);
    // A buffer in use by an operation cannot be released.
    const p = ring.writeFixed(fd, again, 0, 4096, 0);
    assert.throws(() => pool.release(again), (e: Error & { code: string }) => e.code === 'ERR_FIXED_BUFFER_BUSY');
    assert.is(await p, 4096);
    pool.release(again);
    // After close every outstanding buffer is refused.
    const late = pool.acquire();
    pool.close();
    assert.throws(() => ring.readFixed(fd, late, 0, 10, 0), /pool closed/);
    assert.throws(() => pool.acquire(), (e: Error & { code: string }) => e.code === 'ERR_BUFFER_POOL_CLOSED');
  } finally {
    fs.closeSync(fd);
    other.close();
    ring.destroy();
    ring2.destroy();
  }
});

test('GC safety: gc() while fixed reads are in flight, data still correct', async () => {
  const ring = new Ring();
  const file = path.join(dir, 'gc');
  const data = randomBytes(64 * 4096);
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r');
  try {
    // The pool and its FixedBuffers go out of scope at once: only the operations in flight
    // (and the promise reactions) reference the registered memory while gc() runs.
    const start = (): Promise<{ i: number; n: number; view: Buffer }>[] => {
      const pool = new BufferPool(ring, { count: 64, size: 4096 });
      const out = [];
      for (let i = 0; i < 64; i++) {
        const fb = pool.acquire();
        fb.buffer.fill(0xee);
        out.push(ring.readFixed(fd, fb, 0, 4096, i * 4096).then((n) => ({ i, n, view: fb.buffer })));
      }
      return out;
    };
    const reads = start();
    gc();
    gc();
    const got = await Promise.all(reads);
    gc();
    for (const { i, n, view } of got) {
      assert.is(n, 4096);
      assert.ok(view.equals(data.subarray(i * 4096, (i + 1) * 4096)), `block ${i}`);
    }
  } finally {
    fs.closeSync(fd);
    ring.destroy();
  }
});

test('abort: a readFixed blocked on an empty pipe rejects with AbortError; the buffer can then be released', async () => {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: 1, size: 4096 });
  const pipes = new PipePool({ pipeSize: 65536 });
  const p = pipes.acquire();
  try {
    const fb = pool.acquire();
    const ac = new AbortController();
    const read = ring.readFixed(p.readFd, fb, 0, 4096, null, { signal: ac.signal });
    assert.is(fb.inflight, 1);
    assert.throws(() => pool.release(fb), /in flight/);
    setImmediate(() => ac.abort());
    const err = await read.then(() => undefined, (e: Error) => e);
    assert.is(err?.name, 'AbortError');
    assert.is(fb.inflight, 0);
    pool.release(fb);
    // The pipe still works and the next read gets the data.
    const fb2 = pool.acquire();
    const again = ring.readFixed(p.readFd, fb2, 0, 4096, null);
    fs.writeSync(p.writeFd, Buffer.from('after abort'));
    assert.is(await again, 11);
    assert.is(fb2.buffer.toString('utf8', 0, 11), 'after abort');
    pool.release(fb2);
    pipes.release(p);
  } finally {
    pipes.close();
    pool.close();
    ring.destroy();
  }
});

test('a pooled Buffer stays valid memory after the ring is destroyed', async () => {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: 2, size: 4096 });
  const file = path.join(dir, 'destroy');
  fs.writeFileSync(file, Buffer.alloc(4096, 0x5a));
  const fd = fs.openSync(file, 'r');
  const fb = pool.acquire();
  assert.is(await ring.readFixed(fd, fb, 0, 4096, 0), 4096);
  const kept = fb.buffer;
  ring.destroy();
  fs.closeSync(fd);
  assert.ok(pool.closed, 'the pool is closed with its ring');
  assert.throws(() => ring.readFixed(0, fb, 0, 1, 0), /released|destroyed/);
  gc();
  gc();
  // Memory still readable and writable, contents intact.
  assert.ok(kept.every((b) => b === 0x5a));
  kept.fill(1);
  gc();
  assert.is(kept.reduce((s, b) => s + b, 0), 4096);
  pool.close(); // idempotent after destroy
});

test.run();
