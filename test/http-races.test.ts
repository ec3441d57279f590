/**
 * File server against a tree that changes under it: a directory swapped for a
 * symlink out of the root between the cache's realpath() and its open (or the
 * listing's read), a file swapped for a FIFO between its stat and open. The
 * swaps are made deterministic by a file-system layer that performs them
 * right after the server's realpath() or stat() of a chosen path, the moment
 * a racing attacker would have to hit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadFileSystem, nodeFileSystem, type FileSystem } from '../examples/file-server/file-io';
import { exchange, get, makeFixture, start, type Fixture } from './http-helpers';

let fx: Fixture;
/** A tree outside the root, shaped like the one inside: base/outside/{d,p/q}. */
let outside: string;

test.before(() => {
  fx = makeFixture();
  outside = path.join(fx.base, 'outside');
  for (const top of [fx.root, outside]) {
    fs.mkdirSync(path.join(top, 'd'), { recursive: true });
    fs.mkdirSync(path.join(top, 'p', 'q'), { recursive: true });
  }
  fs.writeFileSync(path.join(fx.root, 'd', 'f.txt'), 'inside\n');
  fs.writeFileSync(path.join(fx.root, 'p', 'q', 'inside-marker.txt'), 'inside\n');
  fs.writeFileSync(path.join(outside, 'd', 'f.txt'), 'OUTSIDE-SECRET\n');
  fs.writeFileSync(path.join(outside, 'd', 'OUTSIDE-MARKER.txt'), 'x');
  fs.writeFileSync(path.join(outside, 'p', 'q', 'OUTSIDE-MARKER.txt'), 'x');
});
test.after(() => fx.cleanup());

/** The file-system layers the server can run on: the runtime's facade (when built) and node:fs/promises. */
const LAYERS: Array<[string, FileSystem]> = [
  ['default', loadFileSystem()],
  ['node', nodeFileSystem],
];

/**
 * `base` with `after()` run once, right after `call(target)` returned (its
 * result is still returned).
 */
function afterOnce(base: FileSystem, call: 'realpath' | 'stat', target: string, after: () => void): FileSystem {
  let armed = true;
  const fire = (p: string): void => {
    if (armed && p === target) {
      armed = false;
      after();
    }
  };
  return {
    ...base,
    realpath: async (p) => {
      const r = await base.realpath(p);
      if (call === 'realpath') fire(p);
      return r;
    },
    stat: async (p) => {
      const r = await base.stat(p);
      if (call === 'stat') fire(p);
      return r;
    },
  };
}

/** Serve with `target`'s directory `name` swapped for a symlink out of the root right after realpath(target). */
async function requestDuringSwap(layer: FileSystem, name: string, target: string, urlPath: string): Promise<{ status: number; text: string }> {
  const inside = path.join(fx.root, name);
  const moved = inside + '.moved';
  let swapped = false;
  const swap = (): void => {
    fs.renameSync(inside, moved);
    fs.symlinkSync(path.join(outside, name), inside);
    swapped = true;
  };
  const srv = await start(fx.root, { fileSystem: afterOnce(layer, 'realpath', target, swap), cache: { revalidateMs: 0 } });
  try {
    const r = await exchange(srv.port, get(urlPath), { responses: 1 });
    assert.ok(swapped, `the swap ran for ${urlPath}`);
    return { status: r.responses[0]?.status ?? 0, text: r.raw.toString() };
  } finally {
    await srv.server.close();
    if (swapped) {
      fs.unlinkSync(inside);
      fs.renameSync(moved, inside);
    }
  }
}

for (const [name, layer] of LAYERS) {
  test(`${name} fs: a parent directory swapped for a symlink out of the root after realpath: 403, not the outside file`, async () => {
    const r = await requestDuringSwap(layer, 'd', path.join(fx.root, 'd', 'f.txt'), '/d/f.txt');
    assert.not.ok(r.text.includes('OUTSIDE-SECRET'), 'served a file from outside the root');
    assert.is(r.status, 403);
    // Undisturbed, the same file is served.
    const srv = await start(fx.root, { fileSystem: layer });
    try {
      const ok = await exchange(srv.port, get('/d/f.txt'), { responses: 1 });
      assert.is(ok.responses[0].body.toString(), 'inside\n');
    } finally {
      await srv.server.close();
    }
  });

  test(`${name} fs: listings of a directory swapped (itself or a parent) for a symlink out of the root: 403`, async () => {
    const self = await requestDuringSwap(layer, 'd', path.join(fx.root, 'd'), '/d/');
    assert.not.ok(self.text.includes('OUTSIDE-MARKER'), 'listed /d/ from outside the root');
    assert.is(self.status, 403);
    const parent = await requestDuringSwap(layer, 'p', path.join(fx.root, 'p', 'q'), '/p/q/');
    assert.not.ok(parent.text.includes('OUTSIDE-MARKER'), 'listed /p/q/ from outside the root');
    assert.is(parent.status, 403);
    const srv = await start(fx.root, { fileSystem: layer });
    try {
      const ok = await exchange(srv.port, get('/p/q/'), { responses: 1 });
      assert.is(ok.responses[0].status, 200);
      assert.ok(ok.responses[0].body.toString().includes('inside-marker.txt'), 'the undisturbed directory is listed');
    } finally {
      await srv.server.close();
    }
  });
}

for (const [name, layer] of LAYERS) {
  test(`${name} fs: a file swapped for a FIFO between stat and open is refused at once, and the URL keeps working`, async () => {
    const file = path.join(fx.root, 'fifo-race.txt');
    const moved = file + '.moved';
    fs.writeFileSync(file, 'regular\n');
    const swap = (): void => {
      fs.renameSync(file, moved);
      const r = spawnSync('mkfifo', [file]);
      assert.is(r.status, 0, `mkfifo: ${r.stderr}`);
    };
    const srv = await start(fx.root, { fileSystem: afterOnce(layer, 'stat', file, swap), cache: { revalidateMs: 0 } });
    try {
      const r = await exchange(srv.port, get('/fifo-race.txt'), { responses: 1, timeoutMs: 3000 });
      const status = r.responses[0]?.status;
      assert.ok(status === 403 || status === 404, `answered ${status ?? 'nothing within 3 s'}`);
      fs.unlinkSync(file);
      fs.renameSync(moved, file);
      const again = await exchange(srv.port, get('/fifo-race.txt'), { responses: 1, timeoutMs: 3000 });
      assert.is(again.responses[0]?.body.toString(), 'regular\n');
    } finally {
      releaseFifoReaders(file);
      await srv.server.close();
      fs.rmSync(file, { force: true });
      fs.rmSync(moved, { force: true });
    }
  });
}

/** Wake an open() blocked on the FIFO at `p` (if it still is one), so a failing test does not hang the process. */
function releaseFifoReaders(p: string): void {
  try {
    if (!fs.lstatSync(p).isFIFO()) return;
    fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch {
    // no reader waiting (ENXIO) or already gone
  }
}

for (const zeroCopy of [true, false]) {
  test(`a file shrunk in place is served at its new length from the next request on (zeroCopy: ${zeroCopy})`, async () => {
    const file = path.join(fx.root, `shrinks-${zeroCopy}.bin`);
    const url = `/shrinks-${zeroCopy}.bin`;
    fs.writeFileSync(file, Buffer.alloc(300_000, 'a'));
    // An hour of trust: only the failed body can make the cache look again.
    const srv = await start(fx.root, { zeroCopy, cache: { revalidateMs: 3_600_000 } });
    try {
      const first = await exchange(srv.port, get(url), { responses: 1 });
      assert.is(first.responses[0].body.length, 300_000);
      fs.writeFileSync(file, Buffer.alloc(50_000, 'b')); // truncate + write: same inode, as editors and bundlers do
      // This one still announces 300000 bytes from the trusted entry and is cut short.
      const cut = await exchange(srv.port, get(url));
      assert.ok(cut.closed && cut.responses.length === 0, 'the request that finds the file short is cut');
      const next = await exchange(srv.port, get(url), { responses: 1, timeoutMs: 3000 });
      assert.is(next.responses[0]?.status, 200, 'the next request is answered whole');
      assert.is(next.responses[0].headers['content-length'], '50000');
      assert.ok(next.responses[0].body.equals(Buffer.alloc(50_000, 'b')));
    } finally {
      await srv.server.close();
      fs.rmSync(file, { force: true });
    }
  });
}

test('a root reached through a symlink still serves its files and listings (checked against its real path)', async () => {
  const link = path.join(fx.base, 'root-link');
  fs.symlinkSync(fx.root, link);
  const srv = await start(link);
  try {
    const r = await exchange(srv.port, get('/d/f.txt') + get('/p/q/'), { responses: 2 });
    assert.is(r.responses[0].status, 200);
    assert.is(r.responses[0].body.toString(), 'inside\n');
    assert.is(r.responses[1].status, 200);
    assert.ok(r.responses[1].body.toString().includes('inside-marker.txt'));
  } finally {
    await srv.server.close();
  }
});

test.run();
