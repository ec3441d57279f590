/**
 * FileHandle operations at the file position (position null): io_uring
 * does not take the position lock that read(2) takes, so the handle runs
 * them one at a time on regular files. Concurrent reads of a file that is
 * not in the page cache must each get the next block; a failure, an abort
 * or a close() must not stall the ones behind it; pipes are not held up.
 * Only the io_uring backend (Node's order of concurrent reads is its thread
 * pool's, so the order checks here do not apply to it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeFs from 'node:fs';
import { isCached } from '../lib/pagecache';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as fs from '../lib/fs';
import { tempDir } from './fs-helpers';
import { within } from './helpers';

const BLOCK = 65536;
const BLOCKS = 8;

let tmp: { dir: string; cleanup: () => void };
let blocks: string;

test.before(() => {
  tmp = tempDir();
  blocks = path.join(tmp.dir, 'blocks');
  // Block k is all 'A' + k.
  const data = Buffer.alloc(BLOCKS * BLOCK);
  for (let k = 0; k < BLOCKS; k++) data.fill(0x41 + k, k * BLOCK, (k + 1) * BLOCK);
  nodeFs.writeFileSync(blocks, data);
});
test.after(() => tmp.cleanup());

/**
 * Drops the file's pages from the page cache (written back first), so
 * io_uring's reads of it go to io-wq workers and run in parallel.
 */
function dropCache(file: string): void {
  const fd = nodeFs.openSync(file, 'r');
  nodeFs.fsyncSync(fd);
  nodeFs.closeSync(fd);
  const r = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
  assert.is(r.status, 0, `dd could not drop the page cache: ${r.stderr}`);
  // dd says yes on file systems that keep everything in memory (tmpfs): there the reads would finish in
  // order anyway and these tests would prove nothing.
  const check = nodeFs.openSync(file, 'r');
  try {
    const cached = ALL.filter((_, k) => isCached(check, k * BLOCK, BLOCK));
    assert.equal(cached, [], `blocks still in the page cache after dd (tmpfs?): ${cached.join('')}`);
  } finally {
    nodeFs.closeSync(check);
  }
}

/** Which block a buffer holds ('A'..), or '?' if it is not one block's bytes. */
function blockOf(b: Uint8Array): string {
  return b.length > 0 && b.every((x) => x === b[0]) ? String.fromCharCode(b[0]!) : '?';
}

const ALL = Array.from({ length: BLOCKS }, (_, k) => String.fromCharCode(0x41 + k));

test('concurrent read(position null) of a file not in the page cache: each gets the next block', async () => {
  for (let round = 0; round < 3; round++) {
    dropCache(blocks);
    const fh = await fs.open(blocks, 'r');
    try {
      const rs = await Promise.all(ALL.map(() => fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null)));
      assert.equal(rs.map((r) => r.bytesRead), ALL.map(() => BLOCK));
      assert.equal(rs.map((r) => blockOf(r.buffer)), ALL, `round ${round}: blocks in call order`);
      assert.is((await fh.read(Buffer.alloc(1), 0, 1, null)).bytesRead, 0, 'the position is at the end');
    } finally {
      await fh.close();
    }
  }
});

test('concurrent readv(position null) of a file not in the page cache: each gets the next block', async () => {
  dropCache(blocks);
  const fh = await fs.open(blocks, 'r');
  try {
    // Two buffers per call: half a block each.
    const rs = await Promise.all(ALL.map(() => fh.readv([Buffer.alloc(BLOCK / 2), Buffer.alloc(BLOCK / 2)])));
    assert.equal(rs.map((r) => r.bytesRead), ALL.map(() => BLOCK));
    assert.equal(rs.map((r) => blockOf(Buffer.concat(r.buffers as Buffer[]))), ALL);
  } finally {
    await fh.close();
  }
});

test('read(null) and readFile() started together share the file without overlap', async () => {
  dropCache(blocks);
  const fh = await fs.open(blocks, 'r');
  try {
    const [first, rest] = await Promise.all([fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null), fh.readFile()]);
    assert.is(blockOf(first.buffer), 'A');
    assert.is(rest.length, (BLOCKS - 1) * BLOCK);
    assert.equal(ALL.slice(1).map((_, k) => blockOf(rest.subarray(k * BLOCK, (k + 1) * BLOCK))), ALL.slice(1));
  } finally {
    await fh.close();
  }
});

test('concurrent write/writev(position null): every block lands after the previous one', async () => {
  const file = path.join(tmp.dir, 'written');
  const fh = await fs.open(file, 'w');
  try {
    await Promise.all(ALL.map((c, k) => k % 2
      ? fh.writev([Buffer.alloc(BLOCK / 2, c), Buffer.alloc(BLOCK / 2, c)], null)
      : fh.write(Buffer.alloc(BLOCK, c), 0, BLOCK, null)));
    await fh.writeFile('end');
  } finally {
    await fh.close();
  }
  const back = nodeFs.readFileSync(file);
  assert.is(back.length, BLOCKS * BLOCK + 3);
  assert.equal(ALL.map((_, k) => blockOf(back.subarray(k * BLOCK, (k + 1) * BLOCK))), ALL);
  assert.is(back.subarray(BLOCKS * BLOCK).toString(), 'end');
});

test('a position operation that fails hands its turn on; its error reaches its caller', async () => {
  const file = path.join(tmp.dir, 'write-only');
  const fh = await fs.open(file, 'w');
  try {
    const bad = fh.read(Buffer.alloc(4), 0, 4, null); // EBADF from the kernel: not open for reading
    const badWhole = fh.readFile();
    const good = fh.write('abc', null);
    const e1 = await within(bad.catch((e: NodeJS.ErrnoException) => e), 5000, 'the failing read');
    const e2 = await within(badWhole.catch((e: NodeJS.ErrnoException) => e), 5000, 'the failing readFile');
    assert.is((e1 as NodeJS.ErrnoException).code, 'EBADF');
    assert.is((e2 as NodeJS.ErrnoException).code, 'EBADF');
    assert.is((await within(good, 5000, 'the write after them')).bytesWritten, 3);
  } finally {
    await fh.close();
  }
  assert.is(nodeFs.readFileSync(file, 'utf8'), 'abc');
});

test('an AbortSignal rejects a readFile waiting for its turn at once; the operations after it still run', async () => {
  const fh = await fs.open(blocks, 'r');
  try {
    assert.is(blockOf((await fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null)).buffer), 'A');
    const ac = new AbortController();
    const running = fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null);
    const waiting = fh.readFile({ signal: ac.signal });
    const after = fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null);
    ac.abort();
    const err = await within(waiting.catch((e: Error) => e), 5000, 'the aborted readFile');
    assert.is((err as Error).name, 'AbortError');
    assert.is((err as NodeJS.ErrnoException).code, 'ABORT_ERR');
    assert.is(blockOf((await running).buffer), 'B');
    assert.is(blockOf((await after).buffer), 'C', 'the aborted readFile read nothing');
  } finally {
    await fh.close();
  }
});

test('close() with position operations queued: they all run, then the fd closes; later calls are EBADF', async () => {
  const fh = await fs.open(blocks, 'r');
  const reads = ALL.slice(0, 4).map(() => fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null));
  const closed = fh.close();
  const late = fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null); // started while close() waits: runs, as in Node
  const got = await within(Promise.all([...reads, late]), 5000, 'the queued reads');
  assert.equal(got.map((r) => blockOf(r.buffer)), ALL.slice(0, 5));
  await within(closed, 5000, 'close()');
  assert.is(fh.fd, -1);
  const err = await fh.read(Buffer.alloc(1), 0, 1, null).catch((e: NodeJS.ErrnoException) => e);
  assert.is((err as NodeJS.ErrnoException).code, 'EBADF');
  const err2 = await fh.readFile().catch((e: NodeJS.ErrnoException) => e);
  assert.is((err2 as NodeJS.ErrnoException).code, 'EBADF');
});

test('writeFile of an async iterable that uses the same handle between items does not wait forever', async () => {
  const file = path.join(tmp.dir, 'iterable');
  const fh = await fs.open(file, 'w+');
  try {
    async function* items(): AsyncGenerator<string> {
      yield 'ab';
      await fh.write('X', null); // the handle's own position operation, between two items
      yield 'cd';
    }
    await within(fh.writeFile(items()), 5000, 'writeFile');
  } finally {
    await within(fh.close(), 5000, 'close()');
  }
  assert.is(nodeFs.readFileSync(file, 'utf8'), 'abXcd');
});

test('on a FIFO a read waiting for data does not hold up a write to the same handle', async () => {
  const fifo = path.join(tmp.dir, 'fifo');
  const r = spawnSync('mkfifo', [fifo]);
  assert.is(r.status, 0, `mkfifo: ${r.stderr}`);
  const fh = await fs.open(fifo, 'r+'); // O_RDWR: opening does not wait for a peer
  const reading = fh.read(Buffer.alloc(5), 0, 5, null);
  let readDone = false;
  void reading.finally(() => { readDone = true; }).catch(() => undefined);
  try {
    const wrote = await within(fh.write('hello', null), 5000, 'the write behind a waiting read');
    assert.is(wrote.bytesWritten, 5);
    assert.is((await within(reading, 5000, 'the read')).buffer.toString(), 'hello');
  } finally {
    // If the write was held up, the read still waits (and close() with it): feed it from another fd.
    const feeder = nodeFs.openSync(fifo, nodeFs.constants.O_WRONLY | nodeFs.constants.O_NONBLOCK);
    if (!readDone) nodeFs.writeSync(feeder, 'fed..');
    nodeFs.closeSync(feeder);
    await within(fh.close(), 5000, 'close()');
  }
});

test.run();
