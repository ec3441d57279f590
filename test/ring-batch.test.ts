/**
 * Batching and back-pressure: one io_uring_enter per loop turn, more
 * operations than the rings hold, no CQE ever lost.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ring } from '../lib/ring';
import { Op, CqeFlag } from '../lib/opcodes';
import { native } from '../lib/native';
import { tempDir } from './helpers';

test('operations queued in one turn reach the kernel in one io_uring_enter', async () => {
  const ring = new Ring({ entries: 128 });
  await ring.nop();
  const before = ring.info().enters;
  const ps = [];
  for (let i = 0; i < 100; i++) ps.push(ring.nop());
  await Promise.all(ps);
  const used = ring.info().enters - before;
  // one submit for the 100 SQEs, plus at most a few to harvest (DEFER_TASKRUN)
  assert.ok(used <= 3, `used ${used} io_uring_enter calls for 100 operations`);
  ring.destroy();
});

test('10,000 concurrent reads on a small ring all complete with correct data', async () => {
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'blocks.bin');
  const blocks = 512;
  const data = Buffer.alloc(blocks * 64);
  for (let i = 0; i < blocks; i++) data.fill(i & 0xff, i * 64, i * 64 + 64);
  fs.writeFileSync(file, data);
  const ring = new Ring({ entries: 8, cqEntries: 16 });
  const fd = await ring.open(file, fs.constants.O_RDONLY);
  const ps: Promise<void>[] = [];
  for (let i = 0; i < 10_000; i++) {
    const block = (i * 7919) % blocks;
    const b = Buffer.alloc(64);
    ps.push(ring.read(fd, b, 0, 64, block * 64).then((n) => {
      assert.is(n, 64);
      assert.ok(b.every((x) => x === (block & 0xff)), `block ${block}`);
    }));
  }
  assert.ok(ring.info().queued > 9000, 'most wait in the JS backlog');
  await Promise.all(ps);
  const info = ring.info();
  assert.is(info.inflight, 0);
  assert.is(info.queued, 0);
  assert.is(info.cqOverflow, 0, 'never more in flight than the CQ holds');
  await ring.close(fd);
  ring.destroy();
  tmp.cleanup();
});

test('10,000 concurrent nops and timeouts mixed: every promise settles once', async () => {
  const ring = new Ring({ entries: 16 });
  let settled = 0;
  const ps: Promise<unknown>[] = [];
  for (let i = 0; i < 10_000; i++) {
    ps.push((i % 10 === 0 ? ring.timeout(1) : ring.nop()).then(() => void settled++));
  }
  await Promise.all(ps);
  assert.is(settled, 10_000);
  ring.destroy();
});

test('operations issued from completion callbacks keep flowing (closed loop)', async () => {
  const ring = new Ring({ entries: 8 });
  let count = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = 0; i < 2000; i++) {
      await ring.nop();
      count++;
    }
  }));
  assert.is(count, 16_000);
  ring.destroy();
});

test('timers still fire while a closed loop of ring operations runs', async () => {
  const ring = new Ring({ entries: 8 });
  let stop = false;
  let ops = 0;
  const loop = (async () => {
    while (!stop) {
      await ring.nop();
      ops++;
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  stop = true;
  await loop;
  assert.ok(ops > 100, `${ops} ops ran and the timer fired`);
  ring.destroy();
});

test('armed multishot operations do not block other work, even beyond the CQ size', async () => {
  const ring = new Ring({ entries: 8, cqEntries: 16 });
  const pipes = Array.from({ length: 40 }, () => native.makePipe(0));
  const events: number[] = Array(40).fill(0);
  const ended: boolean[] = Array(40).fill(false);
  // A multishot poll (IORING_POLL_ADD_MULTI) on each pipe: 40 armed streams on a 16-entry CQ.
  const streams = pipes.map(([r], i) => ring.submitStream({ opcode: Op.POLL_ADD, fd: r, len: 1, opFlags: 0x1,
    syscall: 'poll' }, (res, flags) => {
    if (res > 0) events[i]!++;
    if ((flags & CqeFlag.MORE) === 0) ended[i] = true;
  }));
  assert.is(ring.info().queued, 0, 'streams are not held back by the in-flight cap');
  const results = await Promise.all(Array.from({ length: 100 }, () => ring.nop()));
  assert.is(results.length, 100, 'ordinary operations still complete');
  fs.writeSync(pipes[7]![1], 'x');
  for (let i = 0; i < 100 && events[7] === 0; i++) await ring.nop();
  assert.ok(events[7]! >= 1, 'the armed poll reported readiness');
  for (const st of streams) st.cancel();
  for (let i = 0; i < 200 && ended.some((e) => !e); i++) await ring.nop();
  assert.ok(ended.every((e) => e), 'every stream ended after cancel');
  assert.is(ring.info().inflight, 0);
  for (const [r, w] of pipes) { native.closeFd(r); native.closeFd(w); }
  ring.destroy();
});

/** A pipe: read end, write end, size. */
type Pipe = ReturnType<typeof native.makePipe>;

/** Pipes the tests below make and close. */
function makePipes(n: number): { fds: Pipe[]; close: () => void } {
  const fds = Array.from({ length: n }, () => native.makePipe(0));
  return { fds, close: () => { for (const [r, w] of fds) { native.closeFd(r); native.closeFd(w); } } };
}

/**
 * Fills `n` places under the ring's in-flight cap with reads of empty pipes (each read's result, or its error
 * code, in `reads`): what is submitted next waits in the backlog.
 */
function fillCap(ring: Ring, n: number): { fds: Pipe[]; reads: Array<Promise<number | string | undefined>>; close: () => void } {
  const p = makePipes(n);
  const reads = p.fds.map(([r]) => ring.read(r, Buffer.alloc(1), 0, 1, -1).catch((e: NodeJS.ErrnoException) => e.code));
  return { fds: p.fds, reads, close: p.close };
}

/**
 * A multishot poll on each of `n` pipes, then one byte written into every pipe in the same turn: their
 * readiness CQEs reach JavaScript in one batch (`turns()` says in how many JavaScript calls they came: the
 * tests below prove something only when it is 1). `onReady(i)` runs in stream i's handler for that CQE;
 * `ends[i]` is the res of stream i's last CQE (1 while armed). `close()` destroys the ring and closes the pipes.
 */
async function readyAtOnce(ring: Ring, n: number, onReady: (i: number) => void):
  Promise<{ events: number[]; ends: number[]; turns: () => number; close: () => void }> {
  const p = makePipes(n);
  const events: number[] = Array(n).fill(0);
  const ends: number[] = Array(n).fill(1);
  let turn = 0;
  const turns = new Set<number>();
  p.fds.forEach(([r], i) => ring.submitStream({ opcode: Op.POLL_ADD, fd: r, len: 1, opFlags: 0x1, syscall: 'poll' },
    (res, flags) => {
      if ((flags & CqeFlag.MORE) === 0) ends[i] = res;
      if (res > 0) {
        events[i]!++;
        turns.add(turn);
        queueMicrotask(() => { turn++; }); // microtasks run once the batch's JavaScript call returns
        onReady(i);
      }
    }));
  await ring.nop(); // the polls are armed
  for (const [, w] of p.fds) fs.writeSync(w, 'x');
  return { events, ends, turns: () => turns.size, close: () => { ring.destroy(); p.close(); } };
}

/**
 * An onReady for {@link readyAtOnce}: the first callback of the batch destroys the ring, the others run `rest`
 * (inside that destroy() call). `returned()` says whether destroy() came back to its caller.
 */
function destroyOnFirst(ring: Ring, rest: (i: number) => void = () => undefined): { onReady: (i: number) => void; returned: () => boolean } {
  let called = false;
  let returned = false;
  return {
    onReady: (i) => {
      if (called) return rest(i);
      called = true;
      ring.destroy();
      returned = true;
    },
    returned: () => returned,
  };
}

/** Collects uncaught exceptions while `fn` runs (a callback's exception is one). */
async function catchingUncaught(fn: (uncaught: unknown[]) => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => { uncaught.push(e); };
  process.on('uncaughtException', onUncaught);
  try {
    await fn(uncaught);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sleeps until `cond` holds or a second passed. */
async function soon(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(5);
}

/** io_uring instances this process has open. */
function ringFds(): number {
  return fs.readdirSync('/proc/self/fd').filter((f) => {
    try { return fs.readlinkSync(`/proc/self/fd/${f}`) === 'anon_inode:[io_uring]'; } catch { return false; }
  }).length;
}

/** Whether `fd` is still open in this process. */
function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** The outcome of a close, as a string: 'closed' or the error code. */
const outcome = (p: Promise<void>): Promise<string> => p.then(() => 'closed', (e: NodeJS.ErrnoException) => e.code ?? String(e));

test('destroy() from a completion callback: the other completions of that batch keep their results', async () => {
  const ring = new Ring();
  const d = destroyOnFirst(ring);
  const p = await readyAtOnce(ring, 6, d.onReady);
  try {
    await soon(d.returned);
    assert.ok(d.returned(), 'a readiness CQE came, and destroy() returned to its caller');
    assert.is(p.turns(), 1, 'the six CQEs came in one batch');
    assert.equal(p.events, [1, 1, 1, 1, 1, 1], 'every pipe\'s readiness was delivered, none turned into ECANCELED');
    assert.ok(p.ends.every((e) => e === -125), `every stream then ended with -ECANCELED (${p.ends.join(' ')})`);
  } finally {
    p.close();
  }
});

test('callbacks that destroy() runs may still submit: no error, and what they submit is cancelled', async () => {
  await catchingUncaught(async (uncaught) => {
    const ring = new Ring();
    const followUps: Array<Promise<string>> = [];
    // The rest of the batch, run inside destroy(): follow-up work, as a server re-arms a read.
    const d = destroyOnFirst(ring, () => {
      followUps.push(ring.timeout(60_000).then(() => 'done', (e: NodeJS.ErrnoException) => e.code ?? String(e)));
    });
    const p = await readyAtOnce(ring, 4, d.onReady);
    try {
      await soon(d.returned);
      assert.is(p.turns(), 1, 'the CQEs came in one batch');
      assert.equal(p.events, [1, 1, 1, 1]);
      assert.equal(await Promise.all(followUps), ['ECANCELED', 'ECANCELED', 'ECANCELED']);
      await sleep(10);
      assert.equal(uncaught, [], 'nothing thrown');
    } finally {
      p.close();
    }
  });
});

test('a completion callback that throws costs the other completions of its batch nothing', async () => {
  await catchingUncaught(async (uncaught) => {
    const ring = new Ring();
    let threw = false;
    const p = await readyAtOnce(ring, 6, () => {
      if (!threw) {
        threw = true;
        throw new Error('handler failed');
      }
    });
    try {
      await soon(() => p.events.every((e) => e > 0));
      assert.is(p.turns(), 1, 'the six CQEs came in one batch');
      assert.equal(p.events, [1, 1, 1, 1, 1, 1], 'every pipe\'s readiness was delivered');
      await new Promise((r) => setImmediate(r));
      assert.is(uncaught.length, 1, 'the error is reported once, as an uncaught exception');
      assert.match(String(uncaught[0]), /handler failed/);
    } finally {
      p.close();
    }
  });
});

test('a completion callback that throws does not hold back operations waiting for room', async () => {
  await catchingUncaught(async (uncaught) => {
    const ring = new Ring({ entries: 8, cqEntries: 16 });
    const cap = fillCap(ring, 16);
    const late = makePipes(1);
    try {
      fs.writeSync(late.fds[0]![1], 'late');
      const queued = ring.read(late.fds[0]![0], Buffer.alloc(4), 0, 4, -1);
      assert.is(ring.info().queued, 1, 'the 17th read waits for room under the cap of 16');
      let thrown = false;
      const [r0, w0] = cap.fds[0]!;
      ring.submitStream({ opcode: Op.POLL_ADD, fd: r0, len: 1, opFlags: 0x1, syscall: 'poll' }, (res) => {
        if (res > 0 && !thrown) {
          thrown = true;
          throw new Error('poll handler failed');
        }
      });
      await sleep(20); // the poll is armed (a nop would wait behind the cap)
      fs.writeSync(w0, 'x'); // read 0 completes (room) in the batch where the poll's handler throws
      const got = await Promise.race([queued, sleep(1000).then(() => -1)]);
      assert.is(got, 4, 'the queued read went out in the batch that made room');
      assert.is(uncaught.length, 1);
      assert.is(await cap.reads[0], 1, 'the read that made room');
    } finally {
      ring.destroy();
      cap.close();
      late.close();
    }
  });
});

test('destroy(): a callback that throws on its ECANCELED does not stop the teardown (the ring is released)', async () => {
  await catchingUncaught(async (uncaught) => {
    const before = ringFds();
    const ring = new Ring();
    const p = makePipes(1);
    try {
      ring.submitStream({ opcode: Op.POLL_ADD, fd: p.fds[0]![0], len: 1, opFlags: 0x1, syscall: 'poll' }, (res) => {
        if (res < 0) throw new Error(`handler saw ${res}`);
      });
      await ring.nop();
      assert.is(ringFds(), before + 1);
      ring.destroy(); // must not throw: the handler's error is the callback's, not destroy()'s
      assert.is(ring.destroyed, true);
      assert.is(ringFds(), before, 'the io_uring fd was closed');
      await new Promise((res) => setImmediate(res));
      assert.is(uncaught.length, 1, 'reported as an uncaught exception');
      assert.match(String(uncaught[0]), /handler saw -125/);
    } finally {
      ring.destroy();
      p.close();
    }
  });
});

test('close() while destroy() delivers the rest of a batch closes the fd (the ring counts as destroyed then)', async () => {
  const ring = new Ring({ entries: 8, cqEntries: 16 });
  const fd = fs.openSync('/dev/null', 'r');
  const seen: Array<{ destroyed: boolean; sameThreadRing: boolean; closed: Promise<string> }> = [];
  const d = destroyOnFirst(ring, () => {
    seen.push({ destroyed: ring.destroyed, sameThreadRing: Ring.forThread() === ring, closed: outcome(ring.close(fd)) });
  });
  const p = await readyAtOnce(ring, 2, d.onReady);
  // The cap is full (16 reads on empty pipes): the close waits in the backlog, which destroy() then takes.
  const cap = fillCap(ring, 16);
  try {
    await soon(() => seen.length > 0);
    assert.is(p.turns(), 1, 'both CQEs came in one batch');
    assert.is(seen.length, 1);
    assert.is(seen[0]!.destroyed, true, 'ring.destroyed is true once destroy() was called');
    assert.is(seen[0]!.sameThreadRing, false, 'Ring.forThread() does not hand out the ring being destroyed');
    assert.is(await seen[0]!.closed, 'closed');
    assert.is(isOpen(fd), false, 'the fd is closed');
    await Promise.all(cap.reads);
  } finally {
    Ring.forThread().destroy();
    if (isOpen(fd)) fs.closeSync(fd);
    cap.close();
    p.close();
  }
});

test('destroy(): a close() still waiting for room is done, not cancelled (the fd is not leaked)', async () => {
  const ring = new Ring({ entries: 8, cqEntries: 16 });
  const cap = fillCap(ring, 16);
  const fd = fs.openSync('/dev/null', 'r');
  try {
    const closed = outcome(ring.close(fd));
    assert.is(ring.info().queued, 1, 'the close waits behind the cap');
    ring.destroy();
    assert.is(await closed, 'closed');
    assert.is(isOpen(fd), false, 'the fd is closed');
    assert.ok((await Promise.all(cap.reads)).every((c) => c === 'ECANCELED'), 'the reads were cancelled');
  } finally {
    if (isOpen(fd)) fs.closeSync(fd);
    cap.close();
  }
});

test('destroy(): a close() done by destroy() comes after the operations submitted before it (no EBADF, no other file)', async () => {
  const tmp = tempDir();
  const ring = new Ring({ entries: 16, cqEntries: 16 });
  const cap = fillCap(ring, 15);
  const file = path.join(tmp.dir, 'out');
  const fd = fs.openSync(file, 'w');
  try {
    const wrote = ring.write(fd, Buffer.from('hello'), 0, 5, 0).then((n) => n, (e: NodeJS.ErrnoException) => e.code);
    const closed = outcome(ring.close(fd));
    assert.is(ring.info().queued, 1, 'the write took the last room under the cap; the close waits');
    ring.destroy();
    const w = await wrote;
    assert.ok(w === 5 || w === 'ECANCELED', `the write ran or was cancelled, not refused (${w})`);
    assert.is(fs.readFileSync(file, 'utf8'), w === 5 ? 'hello' : '');
    assert.is(await closed, 'closed');
    assert.is(isOpen(fd), false, 'the fd is closed');
    await Promise.all(cap.reads);
  } finally {
    if (isOpen(fd)) fs.closeSync(fd);
    cap.close();
    tmp.cleanup();
  }
});

test('the fallback setup (no DEFER_TASKRUN) reads, times out and cancels too', async () => {
  const ring = new Ring({ entries: 8, deferTaskrun: false });
  assert.is(ring.info().deferTaskrun, false);
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'f');
  fs.writeFileSync(file, 'fallback');
  const fd = await ring.open(file, fs.constants.O_RDONLY);
  const b = Buffer.alloc(8);
  const reads = await Promise.all(Array.from({ length: 100 }, () => ring.read(fd, b, 0, 8, 0)));
  assert.ok(reads.every((n) => n === 8));
  assert.is(b.toString(), 'fallback');
  await ring.timeout(5);
  const ac = new AbortController();
  const p = ring.timeout(60_000, { signal: ac.signal });
  setTimeout(() => ac.abort(), 5);
  await p.then(() => assert.unreachable('should reject'), (e: Error) => assert.is(e.name, 'AbortError'));
  await ring.close(fd);
  ring.destroy();
  tmp.cleanup();
});

test.run();
