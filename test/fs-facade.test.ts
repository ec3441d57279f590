/**
 * FileHandle life cycle, fd hygiene, the module's exports, and the choice
 * of backend (URING_BACKEND=node, io_uring unavailable, one warning).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as fs from '../lib/fs';
import * as root from '../lib/index';
import { Ring } from '../lib/ring';
import { Op } from '../lib/opcodes';
import { adoptedFdCount } from '../lib/owned-fds';
import { IS_CHILD, openFds, rerunOnNodeBackend, tempDir } from './fs-helpers';
import { fdTarget, gc } from './helpers';

let tmp: { dir: string; cleanup: () => void };
const warnings: Error[] = [];
const onWarning = (w: Error): void => void warnings.push(w);

test.before(() => {
  tmp = tempDir();
  process.on('warning', onWarning);
  nodeFs.writeFileSync(path.join(tmp.dir, 'big'), Buffer.alloc(4 << 20, 'x'));
  nodeFs.writeFileSync(path.join(tmp.dir, 'small'), 'small file\n');
});
test.after(() => {
  process.off('warning', onWarning);
  tmp.cleanup();
});

const p = (name: string): string => path.join(tmp.dir, name);

test('the package root exports this module as fs', () => {
  assert.is(root.fs.readFile, fs.readFile);
  assert.is(root.fs.FileHandle, fs.FileHandle);
  assert.is(root.fs.constants.O_RDONLY, nodeFs.constants.O_RDONLY);
  const pkg = JSON.parse(nodeFs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  assert.is(path.resolve(__dirname, '..', '..', pkg.exports['./fs'].default), path.resolve(__dirname, '..', 'lib', 'fs.js'));
});

test('stat results are instances of node:fs Stats, with our fields and predicates', async () => {
  nodeFs.writeFileSync(p('stat-kind'), 'abc');
  const st = await fs.stat(p('stat-kind'));
  assert.ok(st instanceof nodeFs.Stats, 'instanceof fs.Stats');
  assert.is(st.size, 3);
  assert.ok(st.isFile());
  assert.not.ok(st.isDirectory());
  assert.ok((await fs.lstat(tmp.dir)).isDirectory());
  assert.is(st.mtimeMs, nodeFs.statSync(p('stat-kind')).mtimeMs);
});

test('close() waits for reads in flight, which still get their data', async () => {
  const fh = await fs.open(p('big'));
  const fd = fh.fd;
  assert.ok(fd >= 0);
  const reads = [0, 1, 2, 3].map((k) => fh.read(Buffer.alloc(1 << 20), 0, 1 << 20, k << 20));
  const closed = fh.close();
  const results = await Promise.all(reads);
  await closed;
  assert.equal(results.map((r) => r.bytesRead), [1 << 20, 1 << 20, 1 << 20, 1 << 20]);
  assert.ok(results.every((r) => r.buffer.every((b) => b === 0x78)));
  assert.is(fh.fd, -1);
  let target = '';
  try {
    target = nodeFs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    // closed: nothing there
  }
  assert.is.not(target, p('big'), 'the fd is still open on the file');
});

test('an operation started while close() waits still runs (as in Node); after the close it is EBADF', async () => {
  const fh = await fs.open(p('small'));
  const first = fh.read(Buffer.alloc(5), 0, 5, 0);
  const closed = fh.close();
  const second = fh.read(Buffer.alloc(5), 0, 5, 6);
  assert.is((await first).buffer.toString(), 'small');
  assert.is((await second).buffer.toString(), 'file\n');
  await closed;
  const err = await fh.read(Buffer.alloc(1), 0, 1, 0).catch((e: NodeJS.ErrnoException) => e);
  assert.instance(err, Error);
  assert.is((err as NodeJS.ErrnoException).code, 'EBADF');
  assert.is((err as NodeJS.ErrnoException).syscall, 'read');
});

test('buffers given to write/writeFile survive gc() while the kernel holds them', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.type(gc, 'function', 'run with --expose-gc');
  const fh = await fs.open(p('gc'), 'w+');
  const writes: Promise<unknown>[] = [];
  for (let k = 0; k < 32; k++) writes.push(fh.write(Buffer.alloc(65536, k), 0, 65536, k * 65536));
  writes.push(fs.writeFile(p('gc2'), Buffer.alloc(3 << 20, 9)));
  gc!();
  await Promise.all(writes);
  await fh.close();
  const back = nodeFs.readFileSync(p('gc'));
  for (let k = 0; k < 32; k++) assert.ok(back.subarray(k * 65536, (k + 1) * 65536).every((b) => b === k), `block ${k}`);
  assert.ok(nodeFs.readFileSync(p('gc2')).every((b) => b === 9));
});

test('two close() calls in a row both resolve, and the fd is closed once', async () => {
  const fh = await fs.open(p('small'));
  await Promise.all([fh.close(), fh.close()]);
  assert.is(fh.fd, -1);
});

test('await using closes the handle', async () => {
  let fd = -1;
  let handle: fs.FileHandle | undefined;
  {
    await using fh = await fs.open(p('small'));
    handle = fh;
    fd = fh.fd;
    assert.ok(fd >= 0);
  }
  assert.is(handle.fd, -1);
});

test('no fd leaks across successes and failures of every kind', async () => {
  const before = openFds();
  for (let i = 0; i < 20; i++) {
    await fs.readFile(p('small'));
    await fs.readFile(p('missing')).catch(() => undefined);
    await fs.readFile(tmp.dir).catch(() => undefined); // EISDIR after open
    await fs.writeFile(p('w'), 'x');
    await fs.writeFile(tmp.dir, 'x').catch(() => undefined);
    await fs.appendFile(p('w'), 'y');
    await fs.copyFile(p('small'), p('c'));
    await fs.copyFile(p('small'), p('c'), fs.constants.COPYFILE_EXCL).catch(() => undefined);
    await fs.copyFile(tmp.dir, p('c2')).catch(() => undefined);
    await fs.copyFile(p('small'), tmp.dir).catch(() => undefined);
    await fs.truncate(p('w'), 1);
    await fs.truncate(p('missing')).catch(() => undefined);
    const fh = await fs.open(p('w'), 'r+');
    await fh.writeFile('z');
    await fh.close();
  }
  assert.is(openFds(), before);
});

test('copyFile keeps an existing destination when COPYFILE_EXCL refuses, and creates nothing for a bad source', async () => {
  nodeFs.writeFileSync(p('keep'), 'precious');
  await fs.copyFile(p('small'), p('keep'), fs.constants.COPYFILE_EXCL).catch(() => undefined);
  assert.is(nodeFs.readFileSync(p('keep'), 'utf8'), 'precious');
  await fs.copyFile(tmp.dir, p('never')).catch(() => undefined);
  assert.not.ok(nodeFs.existsSync(p('never')));
});

test('copyFile of 4 MiB copies every byte, and the source mode, past the umask', async () => {
  nodeFs.chmodSync(p('big'), 0o777);
  await fs.copyFile(p('big'), p('big-copy'));
  assert.ok(nodeFs.readFileSync(p('big-copy')).equals(nodeFs.readFileSync(p('big'))));
  assert.is(nodeFs.statSync(p('big-copy')).mode & 0o777, 0o777);
});

test('readFile and writeFile with an AbortSignal reject with AbortError', async () => {
  const ac = new AbortController();
  ac.abort();
  const e1 = await fs.readFile(p('big'), { signal: ac.signal }).catch((e: Error) => e);
  const e2 = await fs.writeFile(p('ab'), 'x', { signal: ac.signal }).catch((e: Error) => e);
  assert.is((e1 as Error).name, 'AbortError');
  assert.is((e2 as Error).name, 'AbortError');
  assert.is((e1 as NodeJS.ErrnoException).code, 'ABORT_ERR');
});

test('readFile(path, { signal }) rejects when the signal fires while the pieces of a 4 MiB file are read', async () => {
  if (IS_CHILD) return; // the pieces are the ring's
  const ring = Ring.forThread();
  const ac = new AbortController();
  const submit = ring.submit;
  // Fire as the first piece goes to the kernel: after every check made before the reads.
  ring.submit = function (this: Ring, ...a: Parameters<Ring['submit']>) {
    const pending = submit.apply(this, a);
    if (a[0].opcode === Op.READ) ac.abort();
    return pending;
  } as Ring['submit'];
  let got: unknown;
  try {
    got = await fs.readFile(p('big'), { signal: ac.signal }).catch((e: Error) => e);
  } finally {
    ring.submit = submit;
  }
  assert.ok(ac.signal.aborted, 'the file was read in pieces');
  assert.instance(got, Error, 'resolved although the signal fired');
  assert.is((got as Error).name, 'AbortError');
});

/** Opens `n` handles on `file`, reads from each, and lets them go unclosed; returns their fds. */
async function openAndDrop(file: string, n: number): Promise<number[]> {
  const fds: number[] = [];
  for (let i = 0; i < n; i++) {
    const fh = await fs.open(file);
    await fh.read(Buffer.alloc(1), 0, 1, 0);
    fds.push(fh.fd);
  }
  return fds;
}

/** Runs gc() and lets finalizers run, up to `rounds` times or until `done()`. */
async function collect(done: () => boolean, rounds = 20): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a FileHandle collected without close() has its fd closed, with Node\'s warning', async () => {
  const adopted = IS_CHILD ? 0 : adoptedFdCount();
  const fds = await openAndDrop(p('small'), 5);
  assert.ok(fds.every((fd) => fdTarget(fd) === p('small')));
  await collect(() => fds.every((fd) => fdTarget(fd) !== p('small')));
  assert.equal(fds.filter((fd) => fdTarget(fd) === p('small')), [], 'fds still open after gc');
  if (!IS_CHILD) assert.is(adoptedFdCount(), adopted, 'the thread still counts the fds as its own');
  await new Promise((r) => setImmediate(r));
  for (const fd of fds) {
    assert.ok(warnings.some((w) => w.message === `Closing file descriptor ${fd} on garbage collection`), `warning for ${fd}`);
  }
});

test('an fd closed with close() and then reused by another file is not closed when the handle is collected', async () => {
  let collected = false;
  const watch = new FinalizationRegistry(() => { collected = true; }); // (a WeakRef's deref would keep it alive)
  const [was, fd] = await (async () => {
    const fh = await fs.open(p('small'));
    watch.register(fh, 0);
    const n = fh.fd;
    await fh.close();
    return [n, nodeFs.openSync(p('big'), 'r')]; // the lowest free number: the one just closed
  })();
  try {
    assert.is(fd, was, 'the number was reused');
    await collect(() => collected);
    assert.ok(collected, 'the handle was collected (else this test proves nothing)');
    assert.is(fdTarget(fd), p('big'), 'the collector closed a number the handle had let go of');
  } finally {
    nodeFs.closeSync(fd);
  }
});

test('the backend is chosen once and warns only on fallback', async () => {
  await fs.readFile(p('small'));
  const ours = warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'URING_FALLBACK');
  if (IS_CHILD) {
    assert.is(fs.backend, 'node');
    assert.is(fs.getBackend(), 'node');
    assert.is(ours.length, 1);
    assert.match(ours[0]!.message, /URING_BACKEND=node/);
  } else {
    assert.is(fs.backend, 'io_uring');
    assert.is(fs.getBackend(), 'io_uring');
    assert.is(ours.length, 0);
  }
});

/** Runs a CommonJS script in a child and returns its last stdout line as JSON. */
function child(script: string, env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const lib = JSON.stringify(path.join(__dirname, '..', 'lib'));
  const r = spawnSync(process.execPath, ['-e', `const LIB = ${lib};\n${script}`], {
    encoding: 'utf8', env: { ...process.env, URING_BACKEND: '', ...env }, timeout: 20_000,
  });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

if (!IS_CHILD) {
  test('when io_uring is unavailable the facade falls back to node:fs/promises with one warning saying why', () => {
    const out = child(`
      const { Ring } = require(LIB + '/ring');
      Ring.forThread = () => {
        const e = new Error('io_uring is not available: io_uring_setup failed with EPERM. (test)');
        e.code = 'ERR_IO_URING_UNAVAILABLE';
        throw e;
      };
      const fs = require(LIB + '/fs');
      const warnings = [];
      process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
      (async () => {
        const text = await fs.readFile(${JSON.stringify(p('small'))}, 'utf8');
        await fs.stat(${JSON.stringify(p('small'))});
        const fh = await fs.open(${JSON.stringify(p('small'))});
        const r = await fh.read(Buffer.alloc(5), 0, 5, 0);
        await fh.close();
        await new Promise((r) => setImmediate(r));
        console.log(JSON.stringify({ backend: fs.backend, text, read: r.buffer.toString(), warnings }));
      })();`);
    assert.is(out.backend, 'node');
    assert.is(out.text, 'small file\n');
    assert.is(out.read, 'small');
    const w = out.warnings as Array<{ code: string; message: string }>;
    assert.is(w.length, 1);
    assert.is(w[0]!.code, 'URING_FALLBACK');
    assert.match(w[0]!.message, /EPERM/);
  });

  test('URING_BACKEND is read at first use, not at import', () => {
    const out = child(`
      const fs = require(LIB + '/fs');
      process.env.URING_BACKEND = 'node';
      console.log(JSON.stringify({ backend: fs.backend }));`);
    assert.is(out.backend, 'node');
  });

  test('other errors from the ring are not hidden by a fallback', () => {
    const out = child(`
      const { Ring } = require(LIB + '/ring');
      Ring.forThread = () => { throw new TypeError('boom'); };
      const fs = require(LIB + '/fs');
      fs.readFile('/etc/hostname').then(() => console.log('{"ok":true}'),
        (e) => console.log(JSON.stringify({ name: e.name, message: e.message })));`);
    assert.equal(out, { name: 'TypeError', message: 'boom' });
  });
}

rerunOnNodeBackend(test, __filename);
test.run();
