/**
 * The proxy's 'ready' pump (examples/proxy/ready-pump.ts) on its own, with raw TCP pairs: TCP urgent data.
 * splice(2) reads nothing past the urgent mark (EAGAIN there, or 0 once the peer's FIN is queued); the pump
 * must pass the mark, forward every normal byte in order (the urgent byte is out of band: absent), not take a
 * 0 at the mark for the end, and not spin when the urgent byte is the last one sent. The proxy suite with this
 * pump is proxy-ready.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Ring } from '../lib/ring';
import { native } from '../lib/native';
import { PipePool } from '../lib/pipes';
import { readyPump } from '../examples/proxy/ready-pump';
import type { PumpResult } from '../examples/proxy/splice-pump';
import { until } from './net-helpers';
import { withRawPairs, recvText, sendText } from './raw-tcp-helpers';

const K = native.socketConstants;

interface Running {
  done: Promise<PumpResult>;
  /** Bytes the pump reported read from the source so far (its onProgress). */
  progress: () => number;
  pool: PipePool;
}

/** Starts readyPump from `s` to `out` (both made O_NONBLOCK, as the proxy does) with a pool of its own. */
function start(ring: Ring, s: number, out: number): Running {
  native.setNonBlocking(s, true);
  native.setNonBlocking(out, true);
  const pool = new PipePool({ pipeSize: 64 * 1024 });
  let read = 0;
  const done = readyPump(ring, s, out, pool, (n) => { read += n; });
  return { done, progress: () => read, pool };
}

/** Ends the source with a FIN, then checks the pump ended cleanly with `bytes` and gave its pipe back. */
async function endCleanly(run: Running, c: number, bytes: number): Promise<PumpResult> {
  native.shutdownSync(c, K.SHUT_WR!);
  const r = await run.done;
  assert.is(r.reason, 'eof', `ended at end of stream (${r.error?.message ?? ''})`);
  assert.is(r.bytes, bytes);
  assert.is(run.pool.inUse, 0, 'the pipe went back to the pool');
  run.pool.close();
  return r;
}

test('urgent byte mid-stream: every normal byte arrives in order, the urgent byte does not', async () => {
  await withRawPairs(async (ring, { c, s, out, sink }) => {
    const run = start(ring, s, out);
    sendText(c, 'abc');
    await until(() => run.progress() >= 3, 3000, 'the bytes before the urgent byte');
    sendText(c, 'd', true);
    sendText(c, 'efg');
    await until(() => run.progress() >= 6, 3000, 'the bytes after the urgent mark');
    sendText(c, 'hij');
    await until(() => run.progress() >= 9, 3000, 'the bytes sent later');
    const r = await endCleanly(run, c, 9);
    assert.is(r.splicedBytes, 8, 'one byte (the one after the mark) went through user space, the rest was spliced');
    native.shutdownSync(out, K.SHUT_WR!);
    assert.is(await recvText(ring, sink, 32), 'abcefghij', 'in order, without the urgent byte, then the end');
  });
});

test('bytes, urgent byte, bytes and FIN all queued before the start: every normal byte arrives, then eof', async () => {
  await withRawPairs(async (ring, { c, s, out, sink }) => {
    // At the mark with the FIN queued splice(2) reads 0: that is not the end, 'efg' is still to come.
    sendText(c, 'abc');
    sendText(c, 'd', true);
    sendText(c, 'efg');
    native.shutdownSync(c, K.SHUT_WR!);
    await new Promise((r) => setTimeout(r, 50));
    const run = start(ring, s, out);
    const r = await run.done;
    assert.is(r.reason, 'eof', `ended at end of stream (${r.error?.message ?? ''})`);
    assert.is(r.bytes, 6, 'the bytes after the urgent mark were delivered too');
    assert.is(run.pool.inUse, 0, 'the pipe went back to the pool');
    run.pool.close();
    native.shutdownSync(out, K.SHUT_WR!);
    assert.is(await recvText(ring, sink, 32), 'abcefg');
  });
});

test('urgent byte as the last byte: the pump goes idle (no busy loop), then carries on and ends cleanly', async () => {
  await withRawPairs(async (ring, { c, s, out, sink }) => {
    sendText(c, 'abc');
    sendText(c, 'd', true);
    await new Promise((r) => setTimeout(r, 50));
    const run = start(ring, s, out);
    await until(() => run.progress() >= 3, 3000, 'the bytes before the urgent byte');
    await new Promise((r) => setTimeout(r, 50));
    // Pump activity over 300 ms: its splice(2)/recv(2) calls and the ring's kernel entries (a poll that kept
    // firing). Nothing new arrives, so an idle pump makes none of either.
    const calls = { n: 0 };
    const { spliceNow, recvAtMark } = native;
    native.spliceNow = (...a) => { calls.n++; return spliceNow(...a); };
    native.recvAtMark = (...a) => { calls.n++; return recvAtMark(...a); };
    let enters: number;
    try {
      enters = ring.info().enters;
      await new Promise((r) => setTimeout(r, 300));
      enters = ring.info().enters - enters;
    } finally {
      native.spliceNow = spliceNow;
      native.recvAtMark = recvAtMark;
    }
    assert.is(calls.n, 0, `the idle pump made ${calls.n} splice/recv calls in 300 ms`);
    assert.ok(enters < 20, `the idle pump made the ring enter the kernel ${enters} times in 300 ms`);
    assert.is(run.progress(), 3);
    sendText(c, 'efg');
    await until(() => run.progress() >= 6, 3000, 'the bytes sent after the urgent byte');
    await endCleanly(run, c, 6);
    native.shutdownSync(out, K.SHUT_WR!);
    assert.is(await recvText(ring, sink, 32), 'abcefg');
  });
});

test.run();
