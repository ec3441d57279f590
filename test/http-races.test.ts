/**
 * File server against a tree that changes under it: a directory swapped for a
 * symlink out of the root between the cache's realpath() and its open (or the
 * listing's read). The swap is made deterministic by a file-system layer
 * that performs it right after the server's realpath() of a chosen path, the
 * moment a racing attacker would have to hit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
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
 * `base` with `after(p)` run once, right after realpath(p) resolved (the
 * resolved path is still returned).
 */
function afterRealpath(base: FileSystem, target: string, after: () => void): FileSystem {
  let armed = true;
  return {
    ...base,
    realpath: async (p) => {
      const real = await base.realpath(p);
      if (armed && p === target) {
        armed = false;
        after();
      }
      return real;
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
  const srv = await start(fx.root, { fileSystem: afterRealpath(layer, target, swap), cache: { revalidateMs: 0 } });
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
