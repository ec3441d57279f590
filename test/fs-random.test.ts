/**
 * Randomized differential test: a seeded, reproducible sequence of writes,
 * reads, truncates, stats, vector I/O and whole-file operations on a few
 * files, through node:fs/promises and through our fs side by side. Results
 * and file contents must agree after every step. The seed is printed;
 * URING_SEED=<n> replays a sequence. Runs again on the fallback backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeFs from 'node:fs';
import * as nfs from 'node:fs/promises';
import * as path from 'node:path';
import * as ours from '../lib/fs';
import { IS_CHILD, outcome, rerunOnNodeBackend, rng, tempDir } from './fs-helpers';

type Api = typeof ours;
type Handle = ours.FileHandle;
const theirs = nfs as unknown as Api;

const SEED = process.env.URING_SEED ? Number(process.env.URING_SEED) : (Date.now() ^ (process.pid << 8)) >>> 0;
const STEPS = Number(process.env.URING_STEPS) || 400;
const FILES = 3;

let tmp: { dir: string; cleanup: () => void };
test.before(() => {
  tmp = tempDir();
  console.log(`fs-random: seed ${SEED} (replay with URING_SEED=${SEED})${IS_CHILD ? ' [node backend]' : ''}`);
});
test.after(() => tmp.cleanup());

/** One side of the comparison: an API, its directory and open handles. */
interface Side {
  api: Api;
  dir: string;
  handles: Handle[];
}

function file(side: Side, i: number): string {
  return path.join(side.dir, `f${i}`);
}

/** Bytes derived from the step (both sides get equal data). */
function bytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

type Step = (side: Side) => Promise<unknown>;

/** Picks the next operation; all randomness is drawn here, so both sides run the same step. */
function nextStep(rand: () => number): [string, Step] {
  const i = (rand() * FILES) | 0;
  const pos = (rand() * 300_000) | 0;
  const len = rand() < 0.7 ? (rand() * 4096) | 0 : (rand() * 200_000) | 0;
  const kind = (rand() * 12) | 0;
  switch (kind) {
    case 0: {
      const data = bytes(rand, len);
      return [`write f${i} ${len}@${pos}`, (s) => s.handles[i]!.write(data, 0, len, pos).then((r) => r.bytesWritten)];
    }
    case 1: {
      const text = bytes(rand, Math.min(len, 999)).toString('base64');
      return [`write string f${i} at file position`, (s) => s.handles[i]!.write(text).then((r) => r.bytesWritten)];
    }
    case 2:
      return [`read f${i} ${len}@${pos}`, async (s) => {
        const r = await s.handles[i]!.read(Buffer.alloc(len + 1), 0, len + 1, pos);
        return r.buffer.subarray(0, r.bytesRead);
      }];
    case 3:
      return [`read f${i} at file position`, async (s) => {
        const r = await s.handles[i]!.read({ buffer: Buffer.alloc(len + 1) });
        return r.buffer.subarray(0, r.bytesRead);
      }];
    case 4:
      return [`truncate f${i} to ${pos}`, (s) => s.handles[i]!.truncate(pos)];
    case 5:
      return [`stat f${i}`, async (s) => {
        const [a, b] = [await s.handles[i]!.stat(), await s.api.stat(file(s, i))];
        return [a.size, b.size, a.mode, b.isFile()];
      }];
    case 6: {
      const parts = [bytes(rand, len % 700), bytes(rand, (len >> 3) % 900), bytes(rand, 5)];
      return [`writev f${i} @${pos}`, (s) => s.handles[i]!.writev(parts, pos).then((r) => r.bytesWritten)];
    }
    case 7:
      return [`readv f${i} @${pos}`, async (s) => {
        const bufs = [Buffer.alloc(len % 1000), Buffer.alloc(17)];
        const r = await s.handles[i]!.readv(bufs, pos);
        return [r.bytesRead, bufs];
      }];
    case 8:
      return [`readFile f${i}`, (s) => s.api.readFile(file(s, i))];
    case 9: {
      const data = bytes(rand, len);
      return [`writeFile f${i} ${len}`, (s) => s.api.writeFile(file(s, i), data)];
    }
    case 10: {
      const data = bytes(rand, len % 5000).toString('hex');
      return [`appendFile f${i}`, (s) => s.api.appendFile(file(s, i), data, 'hex')];
    }
    default:
      return [`truncate path f${i} to ${len}`, (s) => s.api.truncate(file(s, i), len)];
  }
}

test(`a seeded random sequence gives the same results and files (${STEPS} steps)`, async () => {
  const rand = rng(SEED);
  const sides: Side[] = [
    { api: theirs, dir: path.join(tmp.dir, 'node'), handles: [] },
    { api: ours, dir: path.join(tmp.dir, 'ours'), handles: [] },
  ];
  for (const s of sides) {
    nodeFs.mkdirSync(s.dir);
    for (let i = 0; i < FILES; i++) s.handles.push(await s.api.open(file(s, i), 'w+'));
  }
  try {
    for (let step = 0; step < STEPS; step++) {
      const [what, run] = nextStep(rand);
      const want = await outcome(() => run(sides[0]!));
      const got = await outcome(() => run(sides[1]!));
      const where = `step ${step} (${what}), seed ${SEED}`;
      assert.equal(got, want, `result differs at ${where}`);
      for (let i = 0; i < FILES; i++) {
        const a = nodeFs.readFileSync(file(sides[0]!, i));
        const b = nodeFs.readFileSync(file(sides[1]!, i));
        if (!a.equals(b)) assert.unreachable(`f${i} differs after ${where}: ${a.length} vs ${b.length} bytes`);
      }
    }
  } finally {
    for (const s of sides) for (const h of s.handles) await h.close();
  }
});

test('concurrent operations on one handle all complete and match node', async () => {
  const rand = rng(SEED ^ 0x5eed);
  const plan = Array.from({ length: 64 }, () => bytes(rand, 1 + ((rand() * 3000) | 0)));
  const results: Buffer[] = [];
  for (const api of [theirs, ours]) {
    const p = path.join(tmp.dir, `conc-${results.length}`);
    const fh = await api.open(p, 'w+');
    // 64 writes in flight at once, each to its own 8 KiB slot of the file.
    const done = await Promise.all(plan.map((d, k) => fh.write(d, 0, d.length, k * 8192)));
    assert.equal(done.map((r) => r.bytesWritten), plan.map((d) => d.length));
    await fh.close();
    results.push(nodeFs.readFileSync(p));
  }
  assert.ok(results[0]!.equals(results[1]!), 'contents differ after 64 concurrent writes');
});

rerunOnNodeBackend(test, __filename);
test.run();
