import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import { native } from '../lib/native';
import { bufferGroup, BufferGroup } from '../lib/net/bufgroup';
import { fdCount, until } from './net-helpers';

const K = native.socketConstants;
const ring = Ring.forThread();
const group = bufferGroup(ring);

function listener(): { lfd: number; port: number } {
  const lfd = native.socketSync(K.AF_INET!, K.SOCK_STREAM!, 0);
  native.bind(lfd, native.encodeSockaddr('127.0.0.1', 0)!);
  native.listen(lfd, 64);
  return { lfd, port: native.getsockname(lfd).port };
}

async function dial(port: number): Promise<number> {
  const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!);
  await ring.connect(fd, native.encodeSockaddr('127.0.0.1', port)!);
  return fd;
}

let baseline = 0;
test.before(() => {
  baseline = fdCount();
});

test('socket, connect, accept, send, sendmsg, recv, shutdown', async () => {
  const { lfd, port } = listener();
  const acc = ring.accept(lfd);
  const c = await dial(port);
  const s = await acc;
  assert.equal(native.getpeername(s).port, native.getsockname(c).port);
  assert.is(await ring.send(c, Buffer.from('hello ')), 6);
  assert.is(await ring.sendmsg(c, [Buffer.from('vectored '), Buffer.from('world')]), 14);
  await ring.shutdown(c, K.SHUT_WR!);
  const buf = Buffer.alloc(64);
  let got = '';
  for (;;) {
    const n = await ring.recv(s, buf);
    if (n === 0) break;
    got += buf.toString('utf8', 0, n);
  }
  assert.is(got, 'hello vectored world');
  await ring.close(c);
  await ring.close(s);
  native.closeFd(lfd);
});

test('connect to a closed port rejects with ECONNREFUSED', async () => {
  const { lfd, port } = listener();
  native.closeFd(lfd);
  const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!);
  const err = await ring.connect(fd, native.encodeSockaddr('127.0.0.1', port)!).catch((e: NodeJS.ErrnoException) => e);
  assert.is((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.is((err as NodeJS.ErrnoException).syscall, 'connect');
  await ring.close(fd);
});

test('accept aborted by its signal rejects with AbortError', async () => {
  const { lfd } = listener();
  const ac = new AbortController();
  const p = ring.accept(lfd, { signal: ac.signal });
  setTimeout(() => ac.abort(), 5);
  const err = await p.catch((e: Error) => e);
  assert.is((err as Error).name, 'AbortError');
  native.closeFd(lfd);
});

test('multishot accept takes several connections, then cancel ends it', async () => {
  const { lfd, port } = listener();
  const accepted: number[] = [];
  const errors: Error[] = [];
  const ms = ring.acceptMultishot(lfd, (err, fd) => {
    if (err) errors.push(err);
    else accepted.push(fd);
  });
  const clients = await Promise.all([dial(port), dial(port), dial(port)]);
  await until(() => accepted.length === 3, 5000, 'three accepts');
  ms.cancel();
  await ms.done;
  assert.is(errors.length, 0);
  // After the cancel the listener no longer accepts through the ring.
  const late = await dial(port); // completes in the backlog only
  await new Promise((r) => setTimeout(r, 20));
  assert.is(accepted.length, 3);
  for (const fd of [...accepted, ...clients, late]) await ring.close(fd);
  native.closeFd(lfd);
});

test('multishot accept ends at once with an already aborted signal, and on abort', async () => {
  const { lfd } = listener();
  const ac = new AbortController();
  ac.abort();
  let calls = 0;
  const ms = ring.acceptMultishot(lfd, () => calls++, { signal: ac.signal });
  await ms.done;
  const ac2 = new AbortController();
  const ms2 = ring.acceptMultishot(lfd, () => calls++, { signal: ac2.signal });
  setTimeout(() => ac2.abort(), 5);
  await ms2.done;
  assert.is(calls, 0);
  native.closeFd(lfd);
});

test('recv aborted by its signal rejects with AbortError', async () => {
  const { lfd, port } = listener();
  const acc = ring.accept(lfd);
  const c = await dial(port);
  const s = await acc;
  const ac = new AbortController();
  const p = ring.recv(s, Buffer.alloc(10), 0, 10, { signal: ac.signal });
  setTimeout(() => ac.abort(), 5);
  const err = await p.catch((e: Error) => e);
  assert.is((err as Error).name, 'AbortError');
  await ring.close(c);
  await ring.close(s);
  native.closeFd(lfd);
});

test('multishot recv delivers chunks from the buffer group; cancel ends it with -ECANCELED', async () => {
  const { lfd, port } = listener();
  const acc = ring.accept(lfd);
  const c = await dial(port);
  const s = await acc;
  const seen: string[] = [];
  let final: [number, boolean] | undefined;
  const op = ring.recvMultishot(s, group, (res, bid, more) => {
    if (res > 0) {
      seen.push(group.copy(bid, 0, res).toString());
      group.recycle(bid);
    }
    if (!more) final = [res, more];
  });
  await ring.send(c, Buffer.from('one'));
  await until(() => seen.join('') === 'one', 5000, 'first chunk');
  await ring.send(c, Buffer.from('two'));
  await until(() => seen.join('') === 'onetwo', 5000, 'second chunk');
  op.cancel();
  await until(() => final !== undefined, 5000, 'final CQE');
  assert.is(final![0], -125);
  assert.is(group.available(), group.count, 'every buffer is back in the ring');
  await ring.close(c);
  await ring.close(s);
  native.closeFd(lfd);
});

test('multishot recv reports end of stream with res 0 and ends', async () => {
  const { lfd, port } = listener();
  const acc = ring.accept(lfd);
  const c = await dial(port);
  const s = await acc;
  let final: number | undefined;
  ring.recvMultishot(s, group, (res, bid, more) => {
    if (res > 0) group.recycle(bid);
    if (!more) final = res;
  });
  await ring.close(c);
  await until(() => final !== undefined, 5000, 'EOF');
  assert.is(final, 0);
  await ring.close(s);
  native.closeFd(lfd);
});

test('a small buffer group runs dry: recv ends with -ENOBUFS and re-arming resumes', async () => {
  const small = new BufferGroup(ring, 0x77, { count: 2, size: 4096 });
  const { lfd, port } = listener();
  const acc = ring.accept(lfd);
  const c = await dial(port);
  const s = await acc;
  const held: number[] = [];
  let got = 0;
  let ended: number | undefined;
  ring.recvMultishot(s, small, (res, bid, more) => {
    if (res > 0) {
      got += res;
      held.push(bid); // hold the buffers: the group runs dry
    }
    if (!more) ended = res;
  });
  await ring.send(c, Buffer.alloc(4096 * 3, 1));
  await until(() => ended !== undefined, 5000, 'ENOBUFS');
  assert.is(ended, -105);
  assert.is(got, 8192);
  for (const b of held.splice(0)) small.recycle(b);
  let more = 0;
  const op = ring.recvMultishot(s, small, (res, bid) => {
    if (res > 0) {
      more += res;
      small.recycle(bid);
    }
  });
  await until(() => more === 4096, 5000, 'rest after re-arm');
  op.cancel();
  await ring.close(c);
  await ring.close(s);
  native.closeFd(lfd);
  small.close();
});

test('buffer group memory stays valid after unregister while a view is alive', () => {
  const g = new BufferGroup(ring, 0x78, { count: 4, size: 4096 });
  const v = g.view(1, 0, 16);
  g.close();
  v.fill(7);
  assert.is(v[15], 7);
  assert.throws(() => new BufferGroup(ring, 0x79, { count: 3, size: 4096 }), RangeError);
});

test('no fd left open', async () => {
  await until(() => fdCount() <= baseline, 2000, 'fds').catch(() => undefined);
  assert.is(fdCount(), baseline);
});

test.run();
