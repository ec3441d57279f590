/**
 * Opening a FIFO through the ring behaves like open(2) and node:fs: for
 * writing with no reader yet it waits for a reader (the kernel's first,
 * non-blocking attempt says ENXIO; the ring retries the blocking way), while
 * an explicit O_NONBLOCK still gets ENXIO.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Ring } from '../lib/ring';
import * as ufs from '../lib/fs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-fifo-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function fifo(name: string): string {
  const p = path.join(dir, name);
  const r = spawnSync('mkfifo', [p]);
  assert.is(r.status, 0, `mkfifo: ${r.stderr}`);
  return p;
}

/** A reader process that opens `p` after `ms` and prints what it read. */
function lateReader(p: string, ms: number): Promise<string> {
  const child = spawn('sh', ['-c', `sleep ${ms / 1000}; cat "${p}"`]);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve) => child.on('close', () => resolve(out)));
}

test('ring.open(fifo, O_WRONLY) waits for a reader instead of failing with ENXIO', async () => {
  const ring = new Ring();
  const p = fifo('w1');
  try {
    const got = lateReader(p, 150);
    const t0 = Date.now();
    const fd = await ring.open(p, fs.constants.O_WRONLY);
    assert.ok(Date.now() - t0 >= 100, 'the open waited for the reader');
    assert.is(await ring.write(fd, Buffer.from('through the fifo'), 0, 16, null), 16);
    await ring.close(fd);
    assert.is(await got, 'through the fifo');
  } finally {
    ring.destroy();
  }
});

test('O_WRONLY | O_NONBLOCK with no reader is still ENXIO (as open(2) says)', async () => {
  const ring = new Ring();
  const p = fifo('w2');
  try {
    const err = await ring.open(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK).then(() => null,
      (e: NodeJS.ErrnoException) => e);
    assert.is(err?.code, 'ENXIO');
    assert.is(err?.syscall, 'open');
    assert.is(err?.path, p);
  } finally {
    ring.destroy();
  }
});

test('a waiting FIFO open can be aborted', async () => {
  const ring = new Ring();
  const p = fifo('w3');
  try {
    const ac = new AbortController();
    const pending = ring.open(p, fs.constants.O_WRONLY, 0o666, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const err = await pending.then(() => null, (e: Error) => e);
    assert.is(err?.name, 'AbortError');
  } finally {
    ring.destroy();
  }
});

test('the fs facade writes to a FIFO like node:fs (writeFile waits for the reader)', async () => {
  const p = fifo('w4');
  const got = lateReader(p, 100);
  await ufs.writeFile(p, 'facade data');
  assert.is(await got, 'facade data');
});

test.run();
