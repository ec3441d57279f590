/**
 * The proxy's splice pumps on their own, with raw TCP pairs: TCP urgent data. splice(2) reads nothing past the
 * urgent mark: non-blocking (the 'ready' pump, examples/proxy/ready-pump.ts) it says EAGAIN there, or 0 once the
 * peer's FIN is queued; blocking (the 'io-wq' pump, examples/proxy/splice-pump.ts, IORING_OP_SPLICE) it returns 0
 * whenever anything is queued behind the mark. Each pump must pass the mark, forward every normal byte in order
 * (the urgent byte is out of band: absent), not take a 0 at the mark for the end, and not spin when the urgent
 * byte is the last one sent. Every test runs once per pump. The proxy suites with these pumps are
 * proxy-ready.test.ts and proxy-io-wq.test.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Ring } from '../lib/ring';
import { native } from '../lib/native';
import { PipePool } from '../lib/pipes';
import { readyPump } from '../examples/proxy/ready-pump';
import { pump, type PumpResult } from '../examples/proxy/splice-pump';
import { until } from './net-helpers';
import { withRawPairs, recvText, sendText, ringEntersDuring } from './raw-tcp-helpers';

const K = native.socketConstants;

interface PumpCase {
  name: string;
  move: typeof pump;
  /** O_NONBLOCK on both sockets, as examples/proxy/connection.ts sets it for this pump (the io-wq pump blocks). */
  nonBlocking: boolean;
}

const PUMPS: PumpCase[] = [
  { name: 'ready', move: readyPump, nonBlocking: true },
  { name: 'io-wq', move: pump, nonBlocking: false },
];

interface Running {
  done: Promise<PumpResult>;
  /** Bytes the pump reported read from the source so far (its onProgress). */
  progress: () => number;
  /** Whether `done` has resolved. */
  settled: () => boolean;
  pool: PipePool;
}

type Pairs = { c: number; s: number; out: number; sink: number };

/**
 * Runs `fn` with raw TCP pairs and a `start` that starts the pump from `s` to `out` (with the pump's blocking
 * mode and a pool of its own). Should `fn` fail with the pump still running (an io-wq splice can block in the
 * kernel), the sockets are shut down and the pump awaited (up to 2 s) before the fds close and the ring goes.
 */
async function withPump(p: PumpCase, fn: (ring: Ring, fds: Pairs, start: () => Running) => Promise<void>): Promise<void> {
  await withRawPairs(async (ring, fds) => {
    let run: Running | undefined;
    const start = (): Running => {
      native.setNonBlocking(fds.s, p.nonBlocking);
      native.setNonBlocking(fds.out, p.nonBlocking);
      const pool = new PipePool({ pipeSize: 64 * 1024 });
      let read = 0;
      let settled = false;
      const done = p.move(ring, fds.s, fds.out, pool, (n) => { read += n; });
      void done.then(() => { settled = true; });
      run = { done, progress: () => read, settled: () => settled, pool };
      return run;
    };
    try {
      await fn(ring, fds, start);
    } finally {
      if (run && !run.settled()) {
        for (const fd of [fds.s, fds.out]) {
          try { native.shutdownSync(fd, K.SHUT_RDWR!); } catch { /* gone */ }
        }
        // Bounded: a pump that spins on would never end; the ring's destruction below then fails its splice.
        await Promise.race([run.done, new Promise((r) => setTimeout(r, 2000))]);
      }
      run?.pool.close();
    }
  });
}

/** The pump's result, once it ends (fails after 3 s: a pump that never ends, e.g. one that loops at the end). */
async function ended(run: Running): Promise<PumpResult> {
  await until(run.settled, 3000, 'the pump to end');
  return run.done;
}

/** Ends the source with a FIN, then checks the pump ended cleanly with `bytes` and gave its pipe back. */
async function endCleanly(run: Running, c: number, bytes: number): Promise<PumpResult> {
  native.shutdownSync(c, K.SHUT_WR!);
  const r = await ended(run);
  assert.is(r.reason, 'eof', `ended at end of stream (${r.error?.message ?? ''})`);
  assert.is(r.bytes, bytes);
  assert.is(run.pool.inUse, 0, 'the pipe went back to the pool');
  assert.is(run.pool.idle, 1, 'the pipe was empty, so it is kept for reuse');
  return r;
}

/**
 * Counts what a pump does while `ms` pass: its splice(2)/recv(2) calls (the ready pump), the ring operations it
 * submits (the io-wq pump's splices) and the ring's kernel entries (a poll that kept firing, or completions).
 */
async function activity(ring: Ring, ms: number): Promise<{ calls: number; enters: number }> {
  let calls = 0;
  const { spliceNow, recvAtMark } = native;
  const submit = ring.submit;
  native.spliceNow = (...a) => { calls++; return spliceNow(...a); };
  native.recvAtMark = (...a) => { calls++; return recvAtMark(...a); };
  ring.submit = function (this: Ring, ...a: Parameters<Ring['submit']>) { calls++; return submit.apply(this, a); } as Ring['submit'];
  try {
    const enters = await ringEntersDuring(ring, ms);
    return { calls, enters };
  } finally {
    native.spliceNow = spliceNow;
    native.recvAtMark = recvAtMark;
    ring.submit = submit;
  }
}

for (const p of PUMPS) {
  const test = suite(`${p.name} pump`);

  test('urgent byte mid-stream: every normal byte arrives in order, the urgent byte does not', async () => {
    await withPump(p, async (ring, { c, out, sink }, start) => {
      const run = start();
      sendText(c, 'abc');
      await until(() => run.progress() >= 3, 3000, 'the bytes before the urgent byte');
      sendText(c, 'd', true);
      sendText(c, 'efg');
      await until(() => run.progress() >= 6 || run.settled(), 3000, 'the bytes after the urgent mark');
      assert.not.ok(run.settled(), 'the pump did not take the urgent mark for the end of stream');
      assert.is(run.progress(), 6);
      sendText(c, 'hij');
      await until(() => run.progress() >= 9, 3000, 'the bytes sent later');
      const r = await endCleanly(run, c, 9);
      assert.is(r.splicedBytes, 8, 'one byte (the one after the mark) went through user space, the rest was spliced');
      native.shutdownSync(out, K.SHUT_WR!);
      assert.is(await recvText(ring, sink, 32), 'abcefghij', 'in order, without the urgent byte, then the end');
    });
  });

  test('bytes, urgent byte, bytes and FIN all queued before the start: every normal byte arrives, then eof', async () => {
    await withPump(p, async (ring, { c, out, sink }, start) => {
      // At the mark with the FIN queued splice(2) reads 0: that is not the end, 'efg' is still to come.
      sendText(c, 'abc');
      sendText(c, 'd', true);
      sendText(c, 'efg');
      native.shutdownSync(c, K.SHUT_WR!);
      await new Promise((r) => setTimeout(r, 50));
      const run = start();
      const r = await ended(run);
      assert.is(r.reason, 'eof', `ended at end of stream (${r.error?.message ?? ''})`);
      assert.is(r.bytes, 6, 'the bytes after the urgent mark were delivered too');
      assert.is(r.splicedBytes, 5);
      assert.is(run.pool.inUse, 0, 'the pipe went back to the pool');
      native.shutdownSync(out, K.SHUT_WR!);
      assert.is(await recvText(ring, sink, 32), 'abcefg');
    });
  });

  test('urgent byte as the last byte: the pump goes idle (no busy loop), then carries on and ends cleanly', async () => {
    await withPump(p, async (ring, { c, out, sink }, start) => {
      sendText(c, 'abc');
      sendText(c, 'd', true);
      await new Promise((r) => setTimeout(r, 50));
      const run = start();
      await until(() => run.progress() >= 3, 3000, 'the bytes before the urgent byte');
      await new Promise((r) => setTimeout(r, 50));
      // Nothing new arrives over 300 ms, so an idle pump makes no calls and submits nothing.
      const { calls, enters } = await activity(ring, 300);
      assert.not.ok(run.settled(), 'the pump did not take the urgent byte for the end of stream');
      assert.is(calls, 0, `the idle pump made ${calls} splice/recv calls or ring submissions in 300 ms`);
      assert.ok(enters < 20, `the idle pump made the ring enter the kernel ${enters} times in 300 ms`);
      assert.is(run.progress(), 3);
      sendText(c, 'efg');
      await until(() => run.progress() >= 6, 3000, 'the bytes sent after the urgent byte');
      await endCleanly(run, c, 6);
      native.shutdownSync(out, K.SHUT_WR!);
      assert.is(await recvText(ring, sink, 32), 'abcefg');
    });
  });

  test('a second urgent byte, sent when the first was passed: neither is taken for the end, later bytes arrive', async () => {
    await withPump(p, async (ring, { c, out, sink }, start) => {
      const run = start();
      sendText(c, 'abc');
      sendText(c, 'd', true);
      await until(() => run.progress() >= 3, 3000, 'the bytes before the first urgent byte');
      await new Promise((r) => setTimeout(r, 50)); // the pump passes the first mark and waits
      sendText(c, 'e', true); // a new urgent byte, alone again
      await new Promise((r) => setTimeout(r, 50));
      assert.not.ok(run.settled(), 'the pump did not take the second urgent byte for the end of stream');
      sendText(c, 'fg');
      await until(() => run.progress() >= 5 || run.settled(), 3000, 'the bytes after the second urgent byte');
      await endCleanly(run, c, 5);
      native.shutdownSync(out, K.SHUT_WR!);
      assert.is(await recvText(ring, sink, 32), 'abcfg');
    });
  });

  test('a newer urgent byte arrives while the pump is at the mark: the mark moves on, no byte is lost', async () => {
    await withPump(p, async (ring, { c, s, out, sink }, start) => {
      sendText(c, 'abc');
      sendText(c, 'd', true);
      sendText(c, 'efg');
      await new Promise((r) => setTimeout(r, 50));
      // The first time the pump asks about the mark (after splice stopped at it), 'h' comes as urgent data
      // first. TCP keeps one urgent mark: the kernel steps over 'd' and marks 'h', so the socket is no longer at
      // a mark although 'efg' is still queued (FIONREAD counts it). That is not the end of stream.
      const { recvAtMark } = native;
      let raced = false;
      native.recvAtMark = (fd, b) => {
        if (!raced) {
          raced = true;
          sendText(c, 'h', true);
          const t = Date.now();
          while (native.pendingBytes(s) === 0 && Date.now() - t < 1000) { /* until the kernel moved the mark */ }
        }
        return recvAtMark(fd, b);
      };
      let r: PumpResult;
      try {
        const run = start();
        await until(() => run.progress() >= 6 || run.settled(), 3000, 'the bytes after the first mark');
        assert.ok(raced, 'the pump asked about the mark');
        assert.not.ok(run.settled(), 'the pump did not take the moved mark for the end of stream');
        r = await endCleanly(run, c, 6);
      } finally {
        native.recvAtMark = recvAtMark;
      }
      assert.is(r.splicedBytes, 6, 'nothing to copy: the kernel passed the first mark, and nothing follows the second');
      native.shutdownSync(out, K.SHUT_WR!);
      assert.is(await recvText(ring, sink, 32), 'abcefg', "'d' was stepped over by the kernel, 'h' is out of band");
    });
  });

  test.run();
}
