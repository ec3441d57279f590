/**
 * The page-cache control of bench/zero-copy's cold mode (bench/cache.ts,
 * bench/c/zc-cache.c): the cold figures are only honest if eviction works
 * and the residency check sees it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileC } from '../bench/util';
import { ColdClient, evictFile, makeFifos, residency, startEvictor } from '../bench/cache';

const TMPFS_MAGIC = 0x01021994; // shmem pages cannot be evicted by POSIX_FADV_DONTNEED

let dir = '';
let zcCache = '';
let evictable = true;

test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cache-'));
  evictable = fs.statfsSync(dir).type !== TMPFS_MAGIC;
  zcCache = compileC('zc-cache');
});

test.after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A file of `pages` 4 KiB pages, read back so that it is in the page cache. */
function cachedFile(name: string, pages: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(pages * 4096, 7));
  fs.readFileSync(file);
  return file;
}

test('a file just read is resident; after fdatasync + DONTNEED none of it is', () => {
  const file = cachedFile('a.dat', 16);
  const before = residency(zcCache, file);
  assert.is(before.pages, 16);
  assert.is(before.resident, 16);
  if (!evictable) return; // tmpfs: nothing to evict, the bench's cold mode needs a disk-backed file system
  const after = evictFile(zcCache, file);
  assert.equal(after, { pages: 16, resident: 0 });
  assert.is(residency(zcCache, file).resident, 0, 'checking residency must not fault pages in');
});

test('the evictor evicts the source before every request and reports what stayed resident', async () => {
  if (!evictable) return;
  const file = cachedFile('b.dat', 8);
  const fifos = makeFifos(dir);
  const evictor = startEvictor(zcCache, file, undefined, undefined, fifos);
  const client = new ColdClient(fifos);
  try {
    client.evict();
    assert.is(client.pages, 8);
    assert.is(client.maxResident, 0);
    assert.is(residency(zcCache, file).resident, 0);
    fs.readFileSync(file); // back into the cache, as a repetition would bring it
    assert.is(residency(zcCache, file).resident, 8);
    client.evict();
    assert.is(residency(zcCache, file).resident, 0);
    assert.ok(client.wallSeconds > 0);
  } finally {
    client.close();
  }
  const summary = await evictor.done;
  assert.is(summary.evictions, 2);
  assert.is(summary.maxResident, 0);
});

test.run();
