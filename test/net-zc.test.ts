import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import { setZeroCopyThreshold, zeroCopyThreshold } from '../lib/ops-net';
import { native } from '../lib/native';
import { fdCount, until } from './net-helpers';

const K = native.socketConstants;
const gc = (globalThis as { gc?: () => void }).gc!;
const ring = Ring.forThread();

/** A connected pair: `fd` (client) and `peer` (accepted); the peer gets a tiny receive buffer. */
async function pair(rcvbuf?: number): Promise<{ fd: number; peer: number; lfd: number }> {
  const lfd = native.socketSync(K.AF_INET!, K.SOCK_STREAM!, 0);
  if (rcvbuf) native.setsockopt(lfd, K.SOL_SOCKET!, K.SO_RCVBUF!, rcvbuf);
  native.bind(lfd, native.encodeSockaddr('127.0.0.1', 0)!);
  native.listen(lfd, 8);
  const port = native.getsockname(lfd).port;
  const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!);
  native.setsockopt(fd, K.SOL_SOCKET!, K.SO_SNDBUF!, 4 << 20);
  const acc = ring.accept(lfd);
  await ring.connect(fd, native.encodeSockaddr('127.0.0.1', port)!);
  return { fd, peer: await acc, lfd };
}

async function drain(fd: number, bytes: number): Promise<void> {
  const buf = Buffer.alloc(65536);
  let got = 0;
  while (got < bytes) {
    const n = await ring.recv(fd, buf);
    if (n === 0) throw new Error('unexpected EOF');
    got += n;
  }
}

test('sendZc holds the buffer until the notification CQE, then lets it go', async () => {
  const before = fdCount();
  const { fd, peer, lfd } = await pair(4096);
  // Fill the peer's receive window so later data waits in our send queue,
  // still referencing the caller's pages.
  const filler = Buffer.alloc(256 * 1024, 1);
  const fillerSent = await ring.send(fd, filler);
  let sentAt = 0;
  let released = false;
  let copied: boolean | undefined;
  let finalized = false;
  const registry = new FinalizationRegistry(() => {
    finalized = true;
  });
  const inflightBefore = ring.info().inflight;
  let weak!: WeakRef<Buffer>;
  const p = (() => {
    const buf = Buffer.alloc(16384, 0x5a); // no reference kept by the test
    weak = new WeakRef(buf);
    registry.register(buf, 'zc');
    return ring.sendZc(fd, buf, {
      onSent: (n) => (sentAt = n),
      onRelease: (c) => {
        released = true;
        copied = c;
      },
    });
  })();
  await until(() => sentAt > 0, 5000, 'first CQE');
  assert.is(sentAt, 16384);
  // The kernel still has the pages: the ring must still hold the buffer.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 10));
    gc();
  }
  assert.is(released, false, 'notification arrived although the peer has not read');
  assert.ok(weak.deref() !== undefined, 'buffer was collected before the notification');
  assert.is(finalized, false);
  assert.ok(ring.info().inflight > inflightBefore, 'the SEND_ZC slot is still in flight');
  // Let the peer read everything: the data leaves the send queue, the notification comes.
  await drain(peer, fillerSent + 16384);
  assert.is(await p, 16384);
  assert.is(released, true);
  assert.is(copied, true, 'loopback: the kernel reports that it copied');
  // Now nothing holds it.
  await until(() => {
    gc();
    return finalized;
  }, 5000, 'buffer finalization');
  await ring.close(fd);
  await ring.close(peer);
  native.closeFd(lfd);
  assert.is(fdCount(), before);
});

test('sendZc errors: EPIPE after the peer closed, no notification wait', async () => {
  const { fd, peer, lfd } = await pair();
  await ring.shutdown(fd, K.SHUT_WR!);
  const err = await ring.sendZc(fd, Buffer.alloc(10)).then(() => null, (e: NodeJS.ErrnoException) => e);
  assert.ok(err !== null);
  assert.is(err!.code, 'EPIPE');
  assert.is(err!.syscall, 'write');
  await ring.close(fd);
  await ring.close(peer);
  native.closeFd(lfd);
});

test('sendZc validates arguments and honours an aborted signal', async () => {
  assert.throws(() => ring.sendZc(-1, Buffer.alloc(1)), (e: Error & { code: string }) => e.code === 'ERR_OUT_OF_RANGE');
  assert.throws(() => ring.sendZc(3, 'x' as unknown as Buffer), (e: Error & { code: string }) => e.code === 'ERR_INVALID_ARG_TYPE');
  const ac = new AbortController();
  ac.abort();
  const err = await ring.sendZc(3, Buffer.alloc(1), { signal: ac.signal }).catch((e: Error) => e);
  assert.is((err as Error).name, 'AbortError');
});

test('sendAuto picks zero-copy at the threshold', async () => {
  const { fd, peer, lfd } = await pair();
  const old = zeroCopyThreshold;
  setZeroCopyThreshold(1000);
  try {
    const d = drain(peer, 2000 + 10);
    assert.is(await ring.sendAuto(fd, Buffer.alloc(2000, 1)), 2000);
    assert.is(await ring.sendAuto(fd, Buffer.alloc(10, 1)), 10);
    await d;
  } finally {
    setZeroCopyThreshold(old);
  }
  assert.throws(() => setZeroCopyThreshold(-1), RangeError);
  await ring.close(fd);
  await ring.close(peer);
  native.closeFd(lfd);
});

test.run();
