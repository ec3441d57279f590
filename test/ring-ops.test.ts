/**
 * Every Ring operation: its success path and its failure path, with results
 * compared against what Node's own fs reports.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ring } from '../lib/ring';
import type { UringError } from '../lib/errors';
import { tempDir } from './helpers';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_WRONLY, O_TRUNC } = fs.constants;
let ring: Ring;
let tmp: { dir: string; cleanup: () => void };

test.before(() => {
  ring = new Ring({ entries: 64 });
  tmp = tempDir();
});
test.after(() => {
  ring.destroy();
  tmp.cleanup();
});

async function rejects(p: Promise<unknown>, code: string, syscall?: string, pth?: string): Promise<UringError> {
  try {
    await p;
  } catch (e) {
    const err = e as UringError;
    assert.is(err.code, code, `code of ${err.message}`);
    assert.ok(err.errno < 0, 'errno is negative like Node');
    if (syscall) assert.is(err.syscall, syscall);
    if (pth !== undefined) assert.is(err.path, pth);
    assert.ok(err.message.startsWith(`${code}: `), err.message);
    return err;
  }
  throw new Error('expected a rejection');
}

test('nop resolves with 0', async () => {
  assert.is(await ring.nop(), 0);
});

test('open/write/read/close round trip at positions', async () => {
  const file = path.join(tmp.dir, 'a.bin');
  const fd = await ring.open(file, O_RDWR | O_CREAT | O_TRUNC, 0o640);
  assert.ok(fd > 2);
  const data = Buffer.from('hello, io_uring world');
  assert.is(await ring.write(fd, data, 0, data.length, 0), data.length);
  assert.is(await ring.write(fd, data, 7, 8, 100), 8); // sparse write at 100
  const out = Buffer.alloc(200);
  const n = await ring.read(fd, out, 0, 200, 0);
  assert.is(n, 108);
  assert.equal(out.subarray(0, data.length), data);
  assert.equal(out.subarray(100, 108), data.subarray(7, 15));
  assert.equal(out.subarray(data.length, 100), Buffer.alloc(100 - data.length));
  // read at end of file gives 0, a short read is not an error
  assert.is(await ring.read(fd, out, 0, 10, 108), 0);
  assert.is(await ring.read(fd, out, 5, 50, 90), 18);
  await ring.close(fd);
  assert.is((fs.statSync(file).mode & 0o777), 0o640 & ~process.umask());
  assert.equal(fs.readFileSync(file).subarray(0, data.length), data);
});

test('read and write at the file position (position null / -1)', async () => {
  const file = path.join(tmp.dir, 'pos.txt');
  const fd = await ring.open(file, O_RDWR | O_CREAT | O_TRUNC);
  await ring.write(fd, Buffer.from('abc'), 0, 3, null);
  await ring.write(fd, Buffer.from('def'), 0, 3, -1);
  await ring.close(fd);
  assert.is(fs.readFileSync(file, 'utf8'), 'abcdef');
  const rfd = await ring.open(file, O_RDONLY);
  const b = Buffer.alloc(3);
  await ring.read(rfd, b, 0, 3, null);
  assert.is(b.toString(), 'abc');
  await ring.read(rfd, b, 0, 3, null);
  assert.is(b.toString(), 'def');
  await ring.close(rfd);
});

test('bigint positions and typed arrays work', async () => {
  const file = path.join(tmp.dir, 'big.bin');
  const fd = await ring.open(file, O_RDWR | O_CREAT | O_TRUNC);
  const u32 = new Uint32Array([1, 2, 3]);
  assert.is(await ring.write(fd, u32, 0, 12, 5n * 2n ** 32n), 12); // beyond 4 GiB, sparse
  const back = new Uint32Array(3);
  assert.is(await ring.read(fd, back, 0, 12, 5 * 2 ** 32), 12);
  assert.equal(Array.from(back), [1, 2, 3]);
  assert.is((await ring.fstat(fd)).size, 5 * 2 ** 32 + 12);
  await ring.close(fd);
});

test('readv and writev move several buffers in order', async () => {
  const file = path.join(tmp.dir, 'vec.txt');
  const fd = await ring.open(file, O_RDWR | O_CREAT | O_TRUNC);
  const n = await ring.writev(fd, [Buffer.from('one,'), Buffer.from('two,'), Buffer.from('three')], 0);
  assert.is(n, 13);
  const a = Buffer.alloc(4);
  const b = Buffer.alloc(4);
  const c = Buffer.alloc(10);
  assert.is(await ring.readv(fd, [a, b, c], 0), 13);
  assert.is(a.toString() + b.toString() + c.toString('utf8', 0, 5), 'one,two,three');
  await ring.close(fd);
});

test('stat, lstat and fstat match node:fs', async () => {
  const file = path.join(tmp.dir, 's.txt');
  fs.writeFileSync(file, 'x'.repeat(1234));
  const link = path.join(tmp.dir, 's.link');
  fs.symlinkSync(file, link);
  const ours = await ring.stat(link);
  const node = fs.statSync(link);
  for (const k of ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'blksize', 'blocks'] as const) {
    assert.is(ours[k], node[k], k);
  }
  assert.ok(Math.abs(ours.mtimeMs - node.mtimeMs) < 1, 'mtimeMs');
  assert.is(ours.mtime.getTime(), node.mtime.getTime());
  assert.ok(ours.isFile() && !ours.isDirectory());
  const l = await ring.lstat(link);
  assert.ok(l.isSymbolicLink());
  assert.is(l.ino, fs.lstatSync(link).ino);
  const fd = await ring.open(file, O_RDONLY);
  const f = await ring.fstat(fd);
  assert.is(f.ino, node.ino);
  await ring.close(fd);
  assert.ok((await ring.stat(tmp.dir)).isDirectory());
  await rejects(ring.stat(path.join(tmp.dir, 'nope')), 'ENOENT', 'stat', path.join(tmp.dir, 'nope'));
  await rejects(ring.lstat(path.join(tmp.dir, 'nope')), 'ENOENT', 'lstat');
  await rejects(ring.fstat(987654), 'EBADF', 'fstat');
});

test('open failures are Node-shaped: ENOENT, EEXIST, EISDIR, ENOTDIR', async () => {
  const missing = path.join(tmp.dir, 'missing');
  const err = await rejects(ring.open(missing, O_RDONLY), 'ENOENT', 'open', missing);
  assert.is(err.errno, -2);
  assert.is(err.message, `ENOENT: no such file or directory, open '${missing}'`);
  const file = path.join(tmp.dir, 'exists');
  fs.writeFileSync(file, '');
  await rejects(ring.open(file, O_CREAT | O_EXCL | O_WRONLY), 'EEXIST', 'open', file);
  await rejects(ring.open(tmp.dir, O_WRONLY), 'EISDIR', 'open');
  await rejects(ring.open(path.join(file, 'x'), O_RDONLY), 'ENOTDIR', 'open');
});

test('read/write/close/fsync on a bad fd reject with EBADF', async () => {
  const b = Buffer.alloc(4);
  await rejects(ring.read(999999, b, 0, 4, 0), 'EBADF', 'read');
  await rejects(ring.write(999999, b, 0, 4, 0), 'EBADF', 'write');
  await rejects(ring.close(999999), 'EBADF', 'close');
  await rejects(ring.fsync(999999), 'EBADF', 'fsync');
  await rejects(ring.fdatasync(999999), 'EBADF', 'fdatasync');
  await rejects(ring.readv(999999, [b]), 'EBADF', 'read');
});

test('fsync and fdatasync succeed on a file', async () => {
  const fd = await ring.open(path.join(tmp.dir, 'sync'), O_RDWR | O_CREAT);
  await ring.write(fd, Buffer.from('durable'), 0, 7, 0);
  assert.is(await ring.fsync(fd), undefined);
  assert.is(await ring.fdatasync(fd), undefined);
  await ring.close(fd);
});

test('fallocate extends a file; on a read-only fd it fails with EBADF', async () => {
  const file = path.join(tmp.dir, 'falloc');
  const fd = await ring.open(file, O_RDWR | O_CREAT | O_TRUNC);
  await ring.fallocate(fd, 0, 0, 1 << 20);
  assert.is(fs.statSync(file).size, 1 << 20);
  await ring.close(fd);
  const rfd = await ring.open(file, O_RDONLY);
  await rejects(ring.fallocate(rfd, 0, 0, 4096), 'EBADF', 'fallocate');
  await ring.close(rfd);
});

test('mkdir, rename, unlink, rmdir and their errors', async () => {
  const d = path.join(tmp.dir, 'dir');
  await ring.mkdir(d, 0o750);
  assert.ok(fs.statSync(d).isDirectory());
  await rejects(ring.mkdir(d), 'EEXIST', 'mkdir', d);
  const a = path.join(d, 'a');
  const b = path.join(d, 'b');
  fs.writeFileSync(a, 'A');
  await ring.rename(a, b);
  assert.is(fs.readFileSync(b, 'utf8'), 'A');
  const e = await rejects(ring.rename(a, b), 'ENOENT', 'rename', a);
  assert.is(e.dest, b);
  assert.is(e.message, `ENOENT: no such file or directory, rename '${a}' -> '${b}'`);
  await rejects(ring.rmdir(d), 'ENOTEMPTY', 'rmdir', d);
  await ring.unlink(b);
  await rejects(ring.unlink(b), 'ENOENT', 'unlink', b);
  await rejects(ring.unlink(d), 'EISDIR', 'unlink');
  await ring.rmdir(d);
  assert.not.ok(fs.existsSync(d));
});

test('paths may be Buffers and file: URLs', async () => {
  const file = path.join(tmp.dir, 'url.txt');
  fs.writeFileSync(file, 'u');
  assert.is((await ring.stat(new URL(`file://${file}`))).size, 1);
  assert.is((await ring.stat(Buffer.from(file))).size, 1);
});

test('timeout resolves after roughly the time asked', async () => {
  const t0 = process.hrtime.bigint();
  await ring.timeout(30);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(ms >= 29, `waited ${ms} ms`);
  await ring.timeout(0);
});

test('probe reports the opcodes this kernel supports', () => {
  const p = ring.probe();
  assert.ok(p.has('NOP') && p.has('READ') && p.has('OPENAT') && p.has('STATX'));
  assert.ok(p.supported.length + p.unsupported.length >= 48);
  assert.is(ring.probe(), p, 'cached');
});

test('info reports a CQ larger than the SQ and the NODROP feature', () => {
  const i = ring.info();
  assert.ok(i.cqEntries > i.sqEntries);
  assert.ok((i.features & 2) !== 0, 'IORING_FEAT_NODROP');
  assert.is(i.cqOverflow, 0);
});

test.run();
