/**
 * A close on a file whose filesystem has a flush method (overlayfs, as on a
 * container's root, NFS, FUSE) does not finish inline: the kernel hands it
 * to io-wq. destroy() right after it cancels it there before it ran, and the
 * fd would stay open; destroy() must close it itself. Needs an overlay mount:
 * the child runs in a user + mount namespace of its own (`unshare -rm`), and
 * the test says it skipped where that is not allowed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIB, skipTest, tempDir } from './helpers';

const script = (file: string): string => `
const fs = require('node:fs');
const { Ring } = require(${JSON.stringify(path.join(LIB, 'ring'))});
const isOpen = (fd) => { try { fs.fstatSync(fd); return true; } catch { return false; } };
(async () => {
  const out = { runs: 20, leaked: 0, results: {} };
  for (let i = 0; i < out.runs; i++) {
    const ring = new Ring();
    const fd = fs.openSync(${JSON.stringify(file)}, 'r');
    const closed = ring.close(fd).then(() => 'closed', (e) => e.code);
    ring.destroy();
    const r = await closed;
    out.results[r] = (out.results[r] ?? 0) + 1;
    if (isOpen(fd)) { out.leaked++; fs.closeSync(fd); }
  }
  console.log(JSON.stringify(out));
})();
`;

test('destroy() right after close() on an overlayfs file: the fd is closed and the close resolves', () => {
  // Overlay layers cannot sit on overlayfs (a container's root): tmpfs in /dev/shm when there is one.
  const tmp = fs.existsSync('/dev/shm') ? (() => {
    const dir = fs.mkdtempSync('/dev/shm/uring-test-');
    return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  })() : tempDir();
  try {
    const d = tmp.dir;
    for (const sub of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(d, sub));
    fs.writeFileSync(path.join(d, 'lower', 'f'), 'on the lower layer\n');
    const mount = `mount -t overlay overlay -o lowerdir=${d}/lower,upperdir=${d}/upper,workdir=${d}/work ${d}/merged`;
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', `${mount} || exit 77; exec "$0" -e "$1"`, process.execPath,
      script(path.join(d, 'merged', 'f'))], { encoding: 'utf8', timeout: 30_000 });
    // Skipped only when the machine cannot do it: no unshare(1), unshare refused, or the mount refused (77).
    // A child that hangs (spawnSync's timeout) or crashes is a failure.
    const unshareMissing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    if (unshareMissing || r.status === 77 || (r.status !== 0 && /^unshare: /m.test(r.stderr))) {
      skipTest('ring-close-flush', `no user + mount namespace or overlay mount here: ${(r.error?.message ?? r.stderr).trim()}`);
      return;
    }
    assert.is(r.error, undefined, `the child did not finish: ${r.error?.message ?? ''}`);
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.is(out.leaked, 0, `fds left open in ${out.runs} runs (${JSON.stringify(out.results)})`);
    assert.equal(out.results, { closed: out.runs }, 'every close resolved');
  } finally {
    tmp.cleanup();
  }
});

test.run();
