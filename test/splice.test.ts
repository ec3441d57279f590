import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Ring } from '../lib/ring';
import { transfer, SpliceFlag } from '../lib/ops-splice';
import { PipePool } from '../lib/pipes';
import { diskTmpDir, fdCount, pipeFdCount, until } from './zc-helpers';

const dir = diskTmpDir('uring-splice-');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

type SysErr = Error & { code: string; syscall: string; errno: number };

function file(name: string, data: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}

test('splice file -> pipe -> file with explicit offsets (file positions untouched)', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const data = randomBytes(10000);
  const src = fs.openSync(file('s1', data), 'r');
  const dst = fs.openSync(path.join(dir, 'd1'), 'w+');
  const p = pool.acquire();
  try {
    assert.is(await ring.splice(src, 5000, p.writeFd, null, 5000), 5000);
    assert.is(await ring.splice(p.readFd, -1, dst, 2n, 5000, SpliceFlag.MOVE), 5000);
    const out = fs.readFileSync(path.join(dir, 'd1'));
    assert.is(out.length, 5002);
    assert.ok(out.subarray(2).equals(data.subarray(5000)));
    // With no offset the file position is used and moves.
    assert.is(await ring.splice(src, null, p.writeFd, null, 100), 100);
    assert.is(fs.readSync(src, Buffer.alloc(1), 0, 1, null), 1);
    pool.release(p);
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
    pool.close();
    ring.destroy();
  }
});

test('tee duplicates pipe data without consuming it', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const a = pool.acquire();
  const b = pool.acquire();
  try {
    fs.writeSync(a.writeFd, Buffer.from('hello, tee'));
    assert.is(await ring.tee(a.readFd, b.writeFd, 100), 10);
    const x = Buffer.alloc(20);
    const y = Buffer.alloc(20);
    assert.is(fs.readSync(a.readFd, x, 0, 20, null), 10);
    assert.is(fs.readSync(b.readFd, y, 0, 20, null), 10);
    assert.is(x.toString('utf8', 0, 10), 'hello, tee');
    assert.is(y.toString('utf8', 0, 10), 'hello, tee');
    pool.release(a);
    pool.release(b);
  } finally {
    pool.close();
    ring.destroy();
  }
});

test('splice and tee errors are Node-shaped; bad arguments throw before submit', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const p = pool.acquire();
  const f = fs.openSync(file('e1', Buffer.alloc(10)), 'r+');
  try {
    await ring.splice(987654, 0, p.writeFd, null, 10).then(() => assert.unreachable(), (e: SysErr) => {
      assert.is(e.code, 'EBADF');
      assert.is(e.syscall, 'splice');
      assert.is(e.errno, -9);
    });
    // Neither side a pipe.
    await ring.splice(f, 0, f, 0, 10).then(() => assert.unreachable(), (e: SysErr) => assert.is(e.code, 'EINVAL'));
    // An offset on a pipe.
    await ring.splice(p.readFd, 0, f, 0, 10).then(() => assert.unreachable(), (e: SysErr) => assert.is(e.code, 'ESPIPE'));
    await ring.tee(f, p.writeFd, 10).then(() => assert.unreachable(), (e: SysErr) => {
      assert.is(e.code, 'EINVAL');
      assert.is(e.syscall, 'tee');
    });
    assert.throws(() => ring.splice(-1, 0, p.writeFd, null, 1), /fdIn/);
    assert.throws(() => ring.splice(f, 0, p.writeFd, null, 2 ** 32), /length/);
    assert.throws(() => ring.splice(f, -2, p.writeFd, null, 1), /offIn/);
    assert.throws(() => ring.tee(f, p.writeFd, 1, 99), /flags/);
    pool.release(p);
  } finally {
    fs.closeSync(f);
    pool.close();
    ring.destroy();
  }
});

test('transfer moves more than a pipe holds, in linked rounds, and reuses the pipe', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const data = randomBytes(65536 * 5 + 777);
  const src = fs.openSync(file('t1', data), 'r');
  const dst = fs.openSync(path.join(dir, 't1.out'), 'w');
  try {
    assert.is(await transfer(ring, src, 0, dst, 0, data.length, pool), data.length);
    assert.ok(fs.readFileSync(path.join(dir, 't1.out')).equals(data));
    assert.is(pool.inUse, 0);
    assert.is(pool.idle, 1, 'the (empty) pipe went back to the pool');
    // Offsets: copy the middle to an offset of another file.
    assert.is(await transfer(ring, src, 1000, dst, 70000, 200000, pool), 200000);
    const out = fs.readFileSync(path.join(dir, 't1.out'));
    assert.ok(out.subarray(70000, 270000).equals(data.subarray(1000, 201000)));
    assert.is(pool.created, 1);
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
    pool.close();
    ring.destroy();
  }
});

test('transfer: end of file before length resolves with the short count', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const data = randomBytes(70000); // more than one pipe: the second round is short
  const src = fs.openSync(file('t2', data), 'r');
  const dst = fs.openSync(path.join(dir, 't2.out'), 'w');
  try {
    assert.is(await transfer(ring, src, 0, dst, 0, 1 << 20, pool), 70000);
    assert.ok(fs.readFileSync(path.join(dir, 't2.out')).equals(data));
    assert.is(await transfer(ring, src, 70000, dst, 0, 100, pool), 0, 'at the end: 0');
    assert.is(pool.idle, 1, 'pipe reused after a short transfer');
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
    pool.close();
    ring.destroy();
  }
});

test('transfer: a short first half (source has less for now) is drained, then the rest follows', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const srcPool = new PipePool({ pipeSize: 65536 });
  const srcPipe = srcPool.acquire();
  const outPath = path.join(dir, 't3.out');
  const dst = fs.openSync(outPath, 'w');
  try {
    const first = randomBytes(1000);
    const rest = randomBytes(3000);
    fs.writeSync(srcPipe.writeFd, first);
    const t = transfer(ring, srcPipe.readFd, null, dst, 0, 4000, pool);
    // The first round can only get 1000 bytes: the link breaks, the pipe is drained to the file.
    await until(() => fs.statSync(outPath).size === 1000, 'the first 1000 bytes');
    fs.writeSync(srcPipe.writeFd, rest);
    assert.is(await t, 4000);
    assert.ok(fs.readFileSync(outPath).equals(Buffer.concat([first, rest])));
    assert.is(pool.idle, 1);
  } finally {
    fs.closeSync(dst);
    srcPool.discard(srcPipe);
    pool.close();
    ring.destroy();
  }
});

test('transfer file -> socket (no destination offset) delivers every byte', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 1 << 20 });
  const data = randomBytes(3 * (1 << 20) + 5);
  const src = fs.openSync(file('t4', data), 'r');
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  const [conn] = (await once(server, 'connection')) as [net.Socket];
  await once(client, 'connect');
  try {
    const chunks: Buffer[] = [];
    conn.on('data', (c: Buffer) => chunks.push(c));
    const ended = once(conn, 'end');
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 0);
    assert.is(await transfer(ring, src, 0, fd, null, data.length, pool), data.length);
    client.end();
    await ended;
    assert.ok(Buffer.concat(chunks).equals(data));
  } finally {
    fs.closeSync(src);
    client.destroy();
    conn.destroy();
    server.close();
    pool.close();
    ring.destroy();
  }
});

test('transfer errors discard the pipe and leak no fd', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const src = fs.openSync(file('t5', randomBytes(200000)), 'r');
  const before = fdCount();
  try {
    // Bad destination: the first half fills the pipe, the second fails with EBADF.
    const ro = fs.openSync(file('t5.ro', Buffer.alloc(0)), 'r');
    await transfer(ring, src, 0, ro, 0, 200000, pool).then(() => assert.unreachable(), (e: SysErr) => {
      assert.is(e.code, 'EBADF');
      assert.is(e.syscall, 'splice');
    });
    fs.closeSync(ro);
    await transfer(ring, 999999, 0, src, 0, 10, pool).then(() => assert.unreachable(),
      (e: SysErr) => assert.is(e.code, 'EBADF'));
    assert.is(pool.inUse, 0);
    assert.is(pool.idle, 0, 'a pipe in an unknown state is never reused');
    assert.is(fdCount(), before, 'no fd leaked');
  } finally {
    fs.closeSync(src);
    pool.close();
    ring.destroy();
  }
});

test('abort mid-transfer rejects with AbortError, discards the pipe, leaks no fd', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const size = 64 << 20;
  const srcPath = path.join(dir, 't6');
  fs.writeFileSync(srcPath, randomBytes(1 << 20));
  fs.truncateSync(srcPath, size); // sparse tail: fast to read
  const outPath = path.join(dir, 't6.out');
  const src = fs.openSync(srcPath, 'r');
  const dst = fs.openSync(outPath, 'w');
  const before = fdCount();
  try {
    const ac = new AbortController();
    const t = transfer(ring, src, 0, dst, 0, size, pool, { signal: ac.signal });
    await until(() => fs.fstatSync(dst).size > 0, 'some progress');
    ac.abort();
    const err = await t.then(() => undefined, (e: Error) => e);
    assert.ok(err, 'the transfer finished before the abort');
    assert.is(err!.name, 'AbortError');
    assert.ok(fs.fstatSync(dst).size < size, 'stopped early');
    assert.is(pool.inUse, 0);
    assert.is(pool.idle, 0, 'pipe discarded');
    assert.is(fdCount(), before, 'no fd leaked');
    assert.is(ring.info().inflight, 0, 'nothing left in flight');
    // An already-aborted signal never starts.
    await transfer(ring, src, 0, dst, 0, 10, pool, { signal: AbortSignal.abort() }).then(
      () => assert.unreachable(), (e: Error) => assert.is(e.name, 'AbortError'));
    assert.is(pool.created, 1);
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
    pool.close();
    ring.destroy();
  }
});

test('destroying the ring mid-transfer rejects and leaks no fd', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const size = 64 << 20;
  const srcPath = path.join(dir, 't7');
  fs.writeFileSync(srcPath, Buffer.alloc(0));
  fs.truncateSync(srcPath, size);
  const outPath = path.join(dir, 't7.out');
  const src = fs.openSync(srcPath, 'r');
  const dst = fs.openSync(outPath, 'w');
  const before = pipeFdCount();
  try {
    const t = transfer(ring, src, 0, dst, 0, size, pool);
    await until(() => fs.fstatSync(dst).size > 0, 'some progress');
    ring.destroy();
    const err = await t.then(() => undefined, (e: SysErr) => e);
    assert.ok(err, 'finished before destroy');
    assert.ok(['ECANCELED', 'ERR_RING_DESTROYED'].includes(err!.code), err!.code);
    assert.is(pool.inUse, 0);
    assert.is(pool.idle, 0);
    assert.is(pipeFdCount(), before, 'the pipe was closed (the ring closes its own fds)');
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
    pool.close();
    ring.destroy();
  }
});

test.run();
