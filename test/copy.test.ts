import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { Ring } from '../lib/ring';
import { copyRange, copyFile } from '../lib/copy';
import { PipePool } from '../lib/pipes';
import { isCached } from '../lib/pagecache';
import { native } from '../lib/native';
import { diskTmpDir, fdCount, sha256File } from './zc-helpers';

const dir = diskTmpDir('uring-copy-');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

type SysErr = Error & { code: string; syscall: string; path?: string; dest?: string };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('copyRange: sizes around the pipe size copy exactly (sha256 matches), source cached or not', async () => {
  // A cached source takes the loop-thread splice into the pipe; an evicted one the linked ring path.
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const pipeSize = pool.acquire().size;
  try {
    for (const evicted of [false, true]) {
      for (const size of [0, 1, pipeSize - 1, pipeSize, pipeSize + 1, 3 * pipeSize + 17, (5 << 20) + 3]) {
        const data = randomBytes(size);
        const s = path.join(dir, `src-${size}`);
        const d = path.join(dir, `dst-${size}`);
        fs.writeFileSync(s, data);
        const src = fs.openSync(s, 'r');
        const dst = fs.openSync(d, 'w');
        try {
          if (evicted) {
            fs.fdatasyncSync(src);
            native.fadvise(src, 0, 0, 4 /* POSIX_FADV_DONTNEED */);
            if (size > 0) assert.is(isCached(src, 0, size), false, `size ${size} evicted`);
          } else if (size > 0) {
            assert.is(isCached(src, 0, size), true, `size ${size} cached`);
          }
          assert.is(await copyRange(ring, src, dst, size, { pool }), size, `size ${size}`);
        } finally {
          fs.closeSync(src);
          fs.closeSync(dst);
        }
        assert.is(await sha256File(d), sha(data), `sha256 for size ${size} (evicted: ${evicted})`);
      }
    }
  } finally {
    pool.close();
    ring.destroy();
  }
});

test('copyRange: fs-facade signature (ring, srcFd, dstFd, length), default pool, offsets, short source', async () => {
  const ring = new Ring();
  const data = randomBytes(300000);
  const s = path.join(dir, 'facade');
  fs.writeFileSync(s, data);
  const src = fs.openSync(s, 'r');
  const dst = fs.openSync(path.join(dir, 'facade.out'), 'w+');
  try {
    const copy: (r: Ring, a: number, b: number, n: number) => Promise<number> = copyRange;
    assert.is(await copy(ring, src, dst, data.length), data.length);
    assert.ok(fs.readFileSync(path.join(dir, 'facade.out')).equals(data));
    assert.is(await copyRange(ring, src, dst, 1000, { srcOffset: 299500, dstOffset: 10 }), 500, 'short: source ended');
    const out = fs.readFileSync(path.join(dir, 'facade.out'));
    assert.ok(out.subarray(10, 510).equals(data.subarray(299500)));
    // The file positions did not move.
    assert.is(fs.readSync(src, Buffer.alloc(4), 0, 4, null), 4);
    assert.throws(() => copyRange(ring, src, dst, -1), /length/);
    assert.throws(() => copyRange(ring, src, dst, 1, { srcOffset: -5 }), /srcOffset/);
    assert.throws(() => copyRange(ring, src, dst, 1, { lanes: 0 }), /lanes/);
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
    ring.destroy();
  }
});

test('copyRange with parallel lanes: 20 MiB random, sha256 matches; short source across lanes', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 1 << 20 });
  const data = randomBytes((20 << 20) + 12345);
  const s = path.join(dir, 'lanes');
  const d = path.join(dir, 'lanes.out');
  fs.writeFileSync(s, data);
  const src = fs.openSync(s, 'r');
  const dst = fs.openSync(d, 'w');
  try {
    assert.is(await copyRange(ring, src, dst, data.length, { pool, lanes: 3 }), data.length);
    assert.is(await sha256File(d), sha(data));
    assert.is(pool.inUse, 0);
    // Ask for more than the file holds: the count stops where the source ended.
    assert.is(await copyRange(ring, src, dst, data.length + (8 << 20), { pool, lanes: 4 }), data.length);
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
    pool.close();
    ring.destroy();
  }
});

test('copyFile copies data and mode, honours COPYFILE_EXCL, reports Node-shaped errors', async () => {
  const ring = new Ring();
  const data = randomBytes(3 << 20);
  const s = path.join(dir, 'cf-src');
  const d = path.join(dir, 'cf-dst');
  fs.writeFileSync(s, data, { mode: 0o640 });
  fs.chmodSync(s, 0o640);
  const pool = new PipePool({ pipeSize: 65536 });
  const before = fdCount();
  try {
    await copyFile(ring, s, d, 0, { pool });
    assert.is(await sha256File(d), sha(data));
    assert.is(fs.statSync(d).mode & 0o777, 0o640);
    // Overwrite a longer file: it is truncated.
    fs.writeFileSync(d, randomBytes(5 << 20));
    await copyFile(ring, s, d, 0, { pool });
    assert.is(fs.statSync(d).size, data.length);
    await copyFile(ring, s, d, fs.constants.COPYFILE_EXCL, { pool }).then(() => assert.unreachable(), (e: SysErr) => {
      assert.is(e.code, 'EEXIST');
      assert.is(e.syscall, 'copyfile');
      assert.is(e.path, s);
      assert.is(e.dest, d);
    });
    await copyFile(ring, path.join(dir, 'nope'), d, 0, { pool }).then(() => assert.unreachable(), (e: SysErr) => {
      assert.is(e.code, 'ENOENT');
      assert.is(e.syscall, 'copyfile');
    });
    await copyFile(ring, s, d, fs.constants.COPYFILE_FICLONE_FORCE).then(() => assert.unreachable(),
      (e: SysErr) => assert.is(e.code, 'ENOTSUP'));
    await copyFile(ring, dir, d, 0, { pool }).then(() => assert.unreachable(), (e: SysErr) => assert.is(e.code, 'EISDIR'));
    // FICLONE is accepted (falls back to copying), empty files work.
    fs.writeFileSync(path.join(dir, 'empty'), '');
    await copyFile(ring, path.join(dir, 'empty'), path.join(dir, 'empty2'), fs.constants.COPYFILE_FICLONE, { pool });
    assert.is(fs.statSync(path.join(dir, 'empty2')).size, 0);
    // Onto itself: unchanged.
    await copyFile(ring, s, s, 0, { pool });
    assert.is(await sha256File(s), sha(data));
    assert.throws(() => copyFile(ring, s, d, 99), /mode/);
    // null mode means 0, as in fs.promises.copyFile.
    fs.writeFileSync(d, 'longer than nothing');
    await copyFile(ring, path.join(dir, 'empty'), d, null, { pool });
    assert.is(fs.statSync(d).size, 0);
    assert.is(pool.created, 1, 'one pipe, reused');
    pool.close();
    assert.is(fdCount(), before, 'no fd leaked');
  } finally {
    ring.destroy();
  }
});

test('copyFile aborted: AbortError, files closed', async () => {
  const ring = new Ring();
  const pool = new PipePool({ pipeSize: 65536 });
  const s = path.join(dir, 'ab-src');
  fs.writeFileSync(s, Buffer.alloc(0));
  fs.truncateSync(s, 256 << 20);
  const before = fdCount();
  try {
    const ac = new AbortController();
    const d = path.join(dir, 'ab-dst');
    const p = copyFile(ring, s, d, 0, { pool, signal: ac.signal });
    setImmediate(() => ac.abort());
    const err = await p.then(() => undefined, (e: Error) => e);
    assert.ok(err, 'copy finished before abort');
    assert.is(err!.name, 'AbortError');
    assert.not.ok(fs.existsSync(d), 'the destination this copy created is removed');
    // An existing destination is left in place; aborted before any byte moved, it is left as it was.
    fs.writeFileSync(d, 'mine');
    const ac2 = new AbortController();
    const p2 = copyFile(ring, s, d, 0, { pool, signal: ac2.signal });
    ac2.abort();
    assert.is(await p2.then(() => 'done', (e: Error) => e.name), 'AbortError');
    assert.is(fs.readFileSync(d, 'utf8'), 'mine', 'an abort before the copy started leaves the destination untouched');
    const ac3 = new AbortController();
    const p3 = copyFile(ring, s, d, 0, { pool, signal: ac3.signal });
    setImmediate(() => ac3.abort());
    assert.is(await p3.then(() => 'done', (e: Error) => e.name), 'AbortError');
    assert.ok(fs.existsSync(d), 'a destination that existed is not removed');
    fs.unlinkSync(d);
    // A dangling symlink as destination: the copy creates its target; aborted, it removes that file, not the link.
    const target = path.join(dir, 'ab-target');
    fs.symlinkSync(target, d);
    const ac4 = new AbortController();
    const p4 = copyFile(ring, s, d, 0, { pool, signal: ac4.signal });
    const abortOnceCreated = (): void => { if (fs.existsSync(target)) ac4.abort(); else setImmediate(abortOnceCreated); };
    abortOnceCreated();
    assert.is(await p4.then(() => 'done', (e: Error) => e.name), 'AbortError');
    assert.not.ok(fs.existsSync(target), 'the target this copy created is removed');
    assert.ok(fs.lstatSync(d).isSymbolicLink(), 'the link stays');
    fs.unlinkSync(d);
    pool.close();
    assert.is(fdCount(), before, 'no fd leaked');
  } finally {
    ring.destroy();
  }
});

test.run();
