/**
 * Readiness on the ring (Ring.poll, IORING_OP_POLL_ADD) and the non-blocking
 * splice(2) that follows it (trySplice): results, end of stream, would-block,
 * cancellation, errors, and no fd left behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { once } from 'node:events';
import { Ring } from '../lib/ring';
import '../lib/ops-poll';
import '../lib/ops-net';
import { PollEvent } from '../lib/ops-poll';
import { PipePool, trySplice } from '../lib/pipes';
import { isCached } from '../lib/pagecache';
import { diskTmpDir } from './zc-helpers';
import * as path from 'node:path';
import { native } from '../lib/native';
import { openFds } from './helpers';

/** What this process's fds point at, for failure messages. */
function fdNames(): string {
  return fs.readdirSync('/proc/self/fd').map((fd) => {
    try { return `${fd}:${fs.readlinkSync(`/proc/self/fd/${fd}`)}`; } catch { return `${fd}:?`; }
  }).join(' ');
}

type SysErr = Error & { code: string; syscall: string };

test('poll: a writable pipe is ready at once; a read end waits until data arrives', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const p = pool.acquire();
  try {
    const out = await ring.poll(p.writeFd, PollEvent.OUT);
    assert.ok(out & PollEvent.OUT, `revents ${out}`);
    let ready = false;
    const waiting = ring.poll(p.readFd, PollEvent.IN).then((r) => { ready = true; return r; });
    await new Promise((r) => setTimeout(r, 30));
    assert.is(ready, false, 'an empty pipe is not readable');
    fs.writeSync(p.writeFd, 'x');
    assert.ok((await waiting) & PollEvent.IN);
  } finally {
    pool.discard(p);
    ring.destroy();
  }
});

test('poll: an AbortSignal cancels a pending poll (AbortError), the ring keeps working', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const p = pool.acquire();
  try {
    const ac = new AbortController();
    const pending = ring.poll(p.readFd, PollEvent.IN, { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    const err = await pending.then(() => null, (e: Error) => e);
    assert.is(err?.name, 'AbortError');
    assert.ok((await ring.poll(p.writeFd, PollEvent.OUT)) & PollEvent.OUT);
  } finally {
    pool.discard(p);
    ring.destroy();
  }
});

test('more waiting polls than CQ entries do not hold back other operations', async () => {
  const ring = new Ring({ entries: 8, cqEntries: 16 });
  const pool = new PipePool({ pipeSize: 65536, maxIdle: 0 });
  const pipes = Array.from({ length: 64 }, () => pool.acquire());
  try {
    // 64 polls on empty pipes: they wait until someone writes, far more than the CQ holds.
    const polls = pipes.map((p) => ring.poll(p.readFd, PollEvent.IN));
    // A plain operation submitted after them must still run now, not after the polls.
    const buf = Buffer.alloc(1);
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      ring.nop().then(() => 'ran'),
      new Promise((r) => { timer = setTimeout(() => r('stuck behind the polls'), 2000); }),
    ]);
    clearTimeout(timer);
    assert.is(done, 'ran');
    for (const p of pipes) fs.writeSync(p.writeFd, buf);
    const events = await Promise.all(polls);
    assert.ok(events.every((e) => (e & PollEvent.IN) !== 0), 'every poll saw its pipe readable');
  } finally {
    for (const p of pipes) pool.discard(p);
    ring.destroy();
  }
});

test('poll: bad arguments are refused before submit', () => {
  const ring = new Ring();
  try {
    assert.throws(() => ring.poll(-1, PollEvent.IN), /fd/);
    assert.throws(() => ring.poll(0, 0), (e: Error) => e instanceof RangeError && /events/.test(e.message));
  } finally {
    ring.destroy();
  }
});

test('trySplice: moves what is there, -1 when it would block, 0 at end of stream', () => {
  const pool = new PipePool({ pipeSize: 65536 });
  const a = pool.acquire();
  const b = pool.acquire();
  try {
    assert.is(trySplice(a.readFd, b.writeFd, 4096), -1, 'empty source: would block, does not wait');
    fs.writeSync(a.writeFd, Buffer.from('hello world'));
    assert.is(trySplice(a.readFd, b.writeFd, 5), 5);
    assert.is(trySplice(a.readFd, b.writeFd, 4096), 6);
    const got = Buffer.alloc(64);
    assert.is(fs.readSync(b.readFd, got, 0, 64, null), 11);
    assert.is(got.subarray(0, 11).toString(), 'hello world');
    native.closeFd(a.writeFd);
    assert.is(trySplice(a.readFd, b.writeFd, 4096), 0, 'writer closed: end of stream');
  } finally {
    try { native.closeFd(a.readFd); } catch { /* closed */ }
    pool.discard(b);
  }
});

test('isCached: a file just written is in the page cache; a bad fd is simply "no"', () => {
  const dir = diskTmpDir('uring-iscached-'); // a real disk: tmpfs pages cannot be evicted
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, Buffer.alloc(100_000, 1));
  const fd = fs.openSync(file, 'r');
  try {
    // cachestat(2) exists from Linux 6.5 (this machine runs 6.18; valgrind does not know it).
    const known = native.cachedRange(fd, 0, 100_000) >= 0;
    if (!known) console.error('# isCached: cachestat(2) unavailable here, checks skipped');
    if (known) {
      assert.is(isCached(fd, 0, 100_000), true);
      fs.fdatasyncSync(fd);
      native.fadvise(fd, 0, 0, 4 /* POSIX_FADV_DONTNEED */);
      assert.is(isCached(fd, 0, 100_000), false, 'evicted pages are reported as not cached');
    }
    assert.is(isCached(-1, 0, 10), false);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('trySplice: a closed fd is a Node-shaped EBADF error', () => {
  const pool = new PipePool({ pipeSize: 65536 });
  const a = pool.acquire();
  pool.discard(a);
  const err = (() => { try { trySplice(a.readFd, a.writeFd, 1); } catch (e) { return e as SysErr; } return null; })();
  assert.is(err?.code, 'EBADF');
  assert.is(err?.syscall, 'splice');
});

test('poll + trySplice move a socket stream through a pipe without blocking the loop', async () => {
  const fdsBefore = openFds();
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const payload = Buffer.alloc(300_000, 7);
  const server = net.createServer((s) => s.end(payload));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const K = native.socketConstants;
  const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!, 0);
  const pipe = pool.acquire();
  try {
    await ring.connect(fd, native.encodeSockaddr('127.0.0.1', (server.address() as net.AddressInfo).port)!);
    native.setNonBlocking(fd, true);
    let total = 0;
    for (;;) {
      const n = trySplice(fd, pipe.writeFd, pipe.size);
      if (n < 0) {
        assert.ok((await ring.poll(fd, PollEvent.IN)) & (PollEvent.IN | PollEvent.HUP));
        continue;
      }
      if (n === 0) break;
      total += n;
      // Drain the pipe so the next splice has room.
      const sink = Buffer.alloc(n);
      let got = 0;
      while (got < n) got += fs.readSync(pipe.readFd, sink, got, n - got, null);
      assert.ok(sink.every((x) => x === 7));
    }
    assert.is(total, payload.length);
  } finally {
    pool.release(pipe);
    pool.close();
    await ring.close(fd);
    ring.destroy();
    await new Promise((r) => server.close(r)); // after its last connection closed
  }
  for (let i = 0; i < 50 && openFds() > fdsBefore; i++) await new Promise((r) => setTimeout(r, 20)); // lazy closes
  assert.ok(openFds() <= fdsBefore, `fds before ${fdsBefore}, after ${openFds()}: ${fdNames()}`);
});

test.run();
