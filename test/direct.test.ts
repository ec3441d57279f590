import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Ring } from '../lib/ring';
import { BufferPool } from '../lib/buffers';
import { openDirect, directAlignment, checkDirectAlignment, logicalBlockSize, type DirectAlignment } from '../lib/direct';
import { diskTmpDir } from './zc-helpers';

const dir = diskTmpDir('uring-direct-');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

type AlignErr = RangeError & { code: string; argument: string; required: number };
const isAlign = (arg: string, required: number) => (e: AlignErr): boolean =>
  e instanceof RangeError && e.code === 'ERR_DIRECT_IO_ALIGNMENT' && e.argument === arg && e.required === required &&
  e.message.includes(String(required));

test('alignment comes from statx, else sysfs logical block size, else 4096', async () => {
  const ring = new Ring();
  const file = path.join(dir, 'align');
  fs.writeFileSync(file, 'x');
  const fd = fs.openSync(file, 'r');
  try {
    const a = await directAlignment(ring, fd);
    assert.ok(['statx', 'sysfs', 'default'].includes(a.source));
    assert.ok(a.memory > 0 && (a.memory & (a.memory - 1)) === 0, 'memory alignment is a power of two');
    assert.ok(a.offset >= 512 && (a.offset & (a.offset - 1)) === 0, 'offset alignment is a power of two >= 512');
    const st = await ring.fstat(fd);
    if (st.dioOffsetAlign > 0) assert.is(a.source, 'statx');
    assert.is(a.offset, st.dioOffsetAlign || a.offset);
  } finally {
    fs.closeSync(fd);
    ring.destroy();
  }
  // sysfs: the root file system's device (walking to the disk for a partition).
  const st = fs.statSync(dir);
  const [major, minor] = [Math.floor(st.dev / 256) & 0xfff, st.dev & 0xff];
  const lbs = await logicalBlockSize(major, minor);
  if (fs.existsSync(`/sys/dev/block/${major}:${minor}`)) {
    assert.ok(lbs !== undefined && lbs >= 512, `logical block size of ${major}:${minor} is ${lbs}`);
  }
  assert.is(await logicalBlockSize(0, 12345), undefined, 'no such device: undefined');
});

test('O_DIRECT reads equal buffered reads byte for byte, including the partial last block', async () => {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: 8, size: 64 * 1024 });
  const file = path.join(dir, 'data');
  const size = 5 * 65536 + 12345; // ends inside a block
  const data = randomBytes(size);
  fs.writeFileSync(file, data);
  const f = await openDirect(ring, file);
  try {
    const block = f.alignment.offset;
    const fbs = [pool.acquire(), pool.acquire()];
    let pos = 0;
    let i = 0;
    // Two reads in flight at a time, whole 64 KiB chunks, the last one past the end.
    while (pos < size) {
      const batch = [];
      for (let k = 0; k < 2 && pos < size; k++, pos += 65536) {
        const fb = fbs[k]!;
        const at = pos;
        batch.push(f.read(fb, 0, 65536, at).then((n) => {
          const want = Math.min(65536, size - at);
          assert.is(n, want, `read at ${at}`);
          assert.ok(fb.buffer.subarray(0, n).equals(data.subarray(at, at + n)), `bytes at ${at}`);
          i++;
        }));
      }
      await Promise.all(batch);
    }
    assert.is(i, 6);
    // The tail as one aligned block: the kernel returns the short count.
    const tailStart = Math.floor(size / block) * block;
    const n = await f.read(fbs[0]!, 0, block, tailStart);
    assert.is(n, size - tailStart);
    const buffered = Buffer.alloc(n);
    fs.readSync(fs.openSync(file, 'r'), buffered, 0, n, tailStart);
    assert.ok(fbs[0]!.buffer.subarray(0, n).equals(buffered));
    assert.is(await f.read(fbs[0]!, 0, block, Math.ceil(size / block) * block), 0, 'past the end');
  } finally {
    await f.close();
    pool.close();
    ring.destroy();
  }
});

test('O_DIRECT writes land on disk and read back through the page cache', async () => {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: 2, size: 16384 });
  const file = path.join(dir, 'written');
  const f = await openDirect(ring, file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    const fb = pool.acquire();
    const data = randomBytes(16384);
    data.copy(fb.buffer);
    assert.is(await f.write(fb, 0, 16384, 0), 16384);
    assert.is(await f.write(fb, 0, 8192, 16384), 8192);
    const back = fs.readFileSync(file);
    assert.is(back.length, 24576);
    assert.ok(back.subarray(0, 16384).equals(data));
    assert.ok(back.subarray(16384).equals(data.subarray(0, 8192)));
  } finally {
    await f.close();
    pool.close();
    ring.destroy();
  }
});

test('misaligned address, length or position is refused before submit, naming the argument', async () => {
  const ring = new Ring();
  const pool = new BufferPool(ring, { count: 1, size: 16384 });
  const file = path.join(dir, 'mis');
  fs.writeFileSync(file, Buffer.alloc(16384, 1));
  const f = await openDirect(ring, file, fs.constants.O_RDWR);
  try {
    const fb = pool.acquire();
    const { memory, offset } = f.alignment;
    const before = ring.info().inflight;
    if (memory > 1) assert.throws(() => f.read(fb, 1, offset, 0), isAlign('buffer', memory));
    assert.throws(() => f.read(fb, 0, offset + 1, 0), isAlign('length', offset));
    assert.throws(() => f.read(fb, 0, offset, 100), isAlign('position', offset));
    assert.throws(() => f.write(fb, 0, 100, 0), isAlign('length', offset));
    assert.throws(() => f.read(fb, 0, offset, -1), /position/);
    assert.is(ring.info().inflight, before, 'nothing reached the kernel');
    // The checker itself, with a forced alignment.
    const a: DirectAlignment = { memory: 4096, offset: 4096, source: 'default' };
    assert.throws(() => checkDirectAlignment(a, fb, 512, 4096, 0), isAlign('buffer', 4096));
    assert.throws(() => checkDirectAlignment(a, fb, 0, 4096, 512), isAlign('position', 4096));
    checkDirectAlignment(a, fb, 4096, 8192, 8192 * 1024 * 1024); // position beyond 4 GiB is fine
    // Aligned: works.
    assert.is(await f.read(fb, 0, offset, 0), offset);
  } finally {
    await f.close();
    pool.close();
    ring.destroy();
  }
  assert.throws(() => f.read(undefined as never, 0, 512, 0), (e: Error & { code: string }) => e.code === 'EBADF');
});

test('open with O_DIRECT where the file system refuses it explains the EINVAL', async () => {
  const ring = new Ring();
  try {
    // procfs refuses O_DIRECT on every kernel.
    const err = await openDirect(ring, '/proc/version').then(
      () => undefined, (e: Error & { code: string; syscall: string; path: string }) => e);
    assert.ok(err, 'procfs accepted O_DIRECT');
    assert.is(err!.code, 'EINVAL');
    assert.is(err!.syscall, 'open');
    assert.is(err!.path, '/proc/version');
    assert.match(err!.message, /refuses O_DIRECT/);
    assert.match(err!.message, /disk-backed/);
    // tmpfs: refused before Linux 6.6 (with the same explanation), accepted since.
    let shm: string | undefined;
    try { shm = fs.mkdtempSync('/dev/shm/uring-direct-'); } catch { /* no /dev/shm */ }
    if (shm) {
      try {
        fs.writeFileSync(path.join(shm, 'f'), 'x');
        await openDirect(ring, path.join(shm, 'f')).then((f) => f.close(),
          (e: Error & { code: string }) => { assert.is(e.code, 'EINVAL'); assert.match(e.message, /tmpfs/); });
      } finally {
        fs.rmSync(shm, { recursive: true, force: true });
      }
    }
    await openDirect(ring, path.join(dir, 'missing')).then(
      () => assert.unreachable('opened a missing file'),
      (e: Error & { code: string; message: string }) => {
        assert.is(e.code, 'ENOENT');
        assert.not.match(e.message, /O_DIRECT/);
      },
    );
  } finally {
    ring.destroy();
  }
});

test.run();
