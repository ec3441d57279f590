import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Ring } from '../lib/ring';
import { copyFile, copyRange } from '../lib/copy';
import { diskTmpDir, sha256File } from './zc-helpers';

const dir = diskTmpDir('uring-copy-large-');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const GiB = 2 ** 30;

test('copyFile of a sparse 4.5 GiB file with data beyond 4 GiB: sha256 matches', async () => {
  const ring = new Ring();
  const s = path.join(dir, 'big');
  const d = path.join(dir, 'big.out');
  const size = 4.5 * GiB + 4097; // not a multiple of anything
  const fd = fs.openSync(s, 'w');
  // Random data at a few offsets, three of them past 2^32 (one across the boundary).
  for (const at of [0, 2 ** 32 - 1000, 2 ** 32 + 12345, 4.25 * GiB, size - 7000]) {
    fs.writeSync(fd, randomBytes(7000), 0, 7000, at);
  }
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);
  try {
    await copyFile(ring, s, d);
    assert.is(fs.statSync(d).size, size);
    const [a, b] = await Promise.all([sha256File(s), sha256File(d)]);
    assert.is(b, a);
    // A range starting beyond 4 GiB lands at the right place.
    const src = fs.openSync(s, 'r');
    const dst = fs.openSync(path.join(dir, 'tail'), 'w');
    assert.is(await copyRange(ring, src, dst, 7000, { srcOffset: 2 ** 32 + 12345 }), 7000);
    fs.closeSync(src);
    fs.closeSync(dst);
    const want = Buffer.alloc(7000);
    fs.readSync(fs.openSync(s, 'r'), want, 0, 7000, 2 ** 32 + 12345);
    assert.ok(fs.readFileSync(path.join(dir, 'tail')).equals(want));
  } finally {
    ring.destroy();
  }
});

test.run();
