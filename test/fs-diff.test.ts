/**
 * Differential tests: every case runs through node:fs/promises in one
 * directory and through our fs facade in another (same relative paths), and
 * must give the same result or the same error (code, syscall, path, message
 * for system errors; code and class for argument errors), leaving the same
 * files behind. The whole file runs again on the fallback backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeFs from 'node:fs';
import * as nfs from 'node:fs/promises';
import * as path from 'node:path';
import * as ours from '../lib/fs';
import { IS_CHILD, outcome, rerunOnNodeBackend, snapshot, tempDir } from './fs-helpers';

type Api = typeof ours;
const theirs = nfs as unknown as Api;
const { constants } = nodeFs;

let tmp: { dir: string; cleanup: () => void };
const origCwd = process.cwd();

test.before(() => {
  tmp = tempDir();
});
test.after(() => {
  process.chdir(origCwd);
  tmp.cleanup();
});

/** Standard starting tree in `dir`. */
function seed(dir: string): void {
  nodeFs.rmSync(dir, { recursive: true, force: true });
  nodeFs.mkdirSync(path.join(dir, 'sub/deeper'), { recursive: true });
  nodeFs.writeFileSync(path.join(dir, 'hello.txt'), 'hello, world\n');
  nodeFs.writeFileSync(path.join(dir, 'empty'), '');
  nodeFs.writeFileSync(path.join(dir, 'sub/inner.bin'), Buffer.from([0, 1, 2, 255]));
  nodeFs.writeFileSync(path.join(dir, 'mode640'), 'secret', { mode: 0o640 });
  nodeFs.chmodSync(path.join(dir, 'mode640'), 0o640);
  nodeFs.writeFileSync(path.join(dir, 'big'), Buffer.alloc(1536 * 1024 + 7, 'abcdefgh'));
  nodeFs.symlinkSync('hello.txt', path.join(dir, 'link'));
}

let n = 0;
/** Runs `fn` on both APIs from fresh identical trees and compares everything. */
function same(name: string, fn: (api: Api) => Promise<unknown>): void {
  test(`same as node: ${name}`, async () => {
    const id = n++;
    const a = path.join(tmp.dir, `node-${id}`);
    const b = path.join(tmp.dir, `ours-${id}`);
    seed(a);
    seed(b);
    process.chdir(a);
    const want = await outcome(() => fn(theirs));
    process.chdir(b);
    const got = await outcome(() => fn(ours));
    process.chdir(origCwd);
    assert.equal(got, want);
    assert.equal(snapshot(b), snapshot(a), 'files left behind differ');
    nodeFs.rmSync(a, { recursive: true, force: true });
    nodeFs.rmSync(b, { recursive: true, force: true });
  });
}

test('backend is what the environment asks for', () => {
  assert.is(ours.backend, IS_CHILD ? 'node' : 'io_uring');
});

// ------------------------------------------------------------------ open flags
const FLAGS = ['r', 'rs+', 'r+', 'w', 'wx', 'w+', 'wx+', 'a', 'ax', 'a+', 'ax+', 'as', 'sr'];
for (const flag of FLAGS) {
  for (const file of ['hello.txt', 'missing', 'sub']) {
    same(`open('${file}', '${flag}') then write, read back, close`, async (api) => {
      const fh = await api.open(file, flag);
      const log: unknown[] = [typeof fh.fd];
      try {
        log.push(await fh.write('XY').then((r) => r.bytesWritten, (e: NodeJS.ErrnoException) => e.code));
        log.push(await fh.read(Buffer.alloc(32), 0, 32, 0).then((r) => r.buffer.subarray(0, r.bytesRead).toString(),
          (e: NodeJS.ErrnoException) => e.code));
      } finally {
        await fh.close();
      }
      return log;
    });
  }
}
same('open with numeric flags O_WRONLY|O_CREAT|O_EXCL on an existing file', (api) =>
  api.open('hello.txt', constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL));
same('open with numeric flags creates with mode 0o600', async (api) => {
  const fh = await api.open('made', constants.O_WRONLY | constants.O_CREAT, 0o600);
  await fh.close();
  return (await api.stat('made')).mode;
});
same('open with an octal string mode', async (api) => {
  const fh = await api.open('m', 'w', '640');
  await fh.close();
  return (await api.stat('m')).mode;
});
same('open rejects an unknown flag string', (api) => api.open('hello.txt', 'invalid'));
same('open rejects an object as flags', (api) => api.open('hello.txt', {} as unknown as string));
same('open rejects a fractional numeric flag', (api) => api.open('hello.txt', 1.5));
same('open rejects a bad mode string', (api) => api.open('x', 'w', 'abc'));
same('open rejects a path with a NUL byte', (api) => api.open('hello\0.txt'));
same('open rejects a number as path', (api) => api.open(5 as unknown as string));
same('open of a missing file is ENOENT', (api) => api.open('nope/nope'));
same('open through a file is ENOTDIR', (api) => api.open('hello.txt/x'));
same('open of a directory for writing is EISDIR', (api) => api.open('sub', 'w'));

// ------------------------------------------------------------------ readFile
same('readFile as Buffer', (api) => api.readFile('hello.txt'));
same('readFile with encoding string', (api) => api.readFile('hello.txt', 'utf8'));
same('readFile with { encoding: base64 }', (api) => api.readFile('sub/inner.bin', { encoding: 'base64' }));
same('readFile with { encoding: hex }', (api) => api.readFile('sub/inner.bin', { encoding: 'hex' }));
same('readFile of an empty file', (api) => api.readFile('empty'));
same('readFile of a 1.5 MiB file (chunked)', async (api) => {
  const b = await api.readFile('big');
  return [b.length, b.subarray(0, 16).toString(), b.subarray(-16).toString()];
});
same('readFile of a 1.5 MiB file as latin1', async (api) => {
  const s = await api.readFile('big', 'latin1');
  return [s.length, s.slice(-9)];
});
same('readFile of /proc/self/stat-sized files (size 0, read to EOF)', async (api) => {
  const s = await api.readFile('/proc/version', 'utf8');
  return s.length > 0 && s === nodeFs.readFileSync('/proc/version', 'utf8');
});
same('readFile through a symlink', (api) => api.readFile('link', 'utf8'));
same('readFile of a missing file is ENOENT', (api) => api.readFile('missing'));
same('readFile of a directory is EISDIR', (api) => api.readFile('sub'));
same('readFile with a bad encoding', (api) => api.readFile('hello.txt', 'nope' as BufferEncoding));
same('readFile with a number as options', (api) => api.readFile('hello.txt', 5 as unknown as 'utf8'));
same('readFile with a bad flag', (api) => api.readFile('hello.txt', { flag: 'bogus' }));
same('readFile with flag a+ creates the file', (api) => api.readFile('created', { flag: 'a+', encoding: 'utf8' }));
same('readFile with an aborted signal', (api) => api.readFile('hello.txt', { signal: AbortSignal.abort() }));
same('readFile of a FileHandle reads from its position', async (api) => {
  const fh = await api.open('hello.txt');
  try {
    await fh.read(Buffer.alloc(7), 0, 7, null);
    return await api.readFile(fh, 'utf8');
  } finally {
    await fh.close();
  }
});

// ------------------------------------------------------------------ writeFile / appendFile
same('writeFile a string', async (api) => { await api.writeFile('out', 'héllo'); return api.readFile('out'); });
same('writeFile a Buffer replaces the old content', (api) => api.writeFile('hello.txt', Buffer.from('new')));
same('writeFile a Uint8Array', (api) => api.writeFile('u8', new Uint8Array([1, 2, 3, 250])));
same('writeFile a DataView slice', (api) => api.writeFile('dv', new DataView(Buffer.from('abcdef').buffer, 1, 3)));
same('writeFile with encoding hex', (api) => api.writeFile('hex', 'deadbeef', 'hex'));
same('writeFile with { encoding: base64, mode: 0o600 }', (api) =>
  api.writeFile('b64', 'aGk=', { encoding: 'base64', mode: 0o600 }));
same('writeFile an iterable of strings and buffers', (api) => api.writeFile('it', ['a', Buffer.from('b'), 'c']));
same('writeFile an async iterable', (api) => api.writeFile('ait', (async function* () {
  yield 'one,';
  yield Buffer.from('two');
})()));
same('writeFile 1.2 MiB (several writes)', (api) => api.writeFile('large', Buffer.alloc(1200 * 1024, 7)));
same('writeFile with flag wx on an existing file is EEXIST', (api) => api.writeFile('hello.txt', 'x', { flag: 'wx' }));
same('writeFile to a directory is EISDIR', (api) => api.writeFile('sub', 'x'));
same('writeFile into a missing directory is ENOENT', (api) => api.writeFile('no/such', 'x'));
same('writeFile with a number as data', (api) => api.writeFile('x', 5 as unknown as string));
same('writeFile with an aborted signal creates nothing', (api) =>
  api.writeFile('aborted', 'x', { signal: AbortSignal.abort() }));
same('writeFile to a FileHandle writes at its position', async (api) => {
  const fh = await api.open('hello.txt', 'r+');
  try {
    await fh.read(Buffer.alloc(5), 0, 5, null);
    await api.writeFile(fh, '!!');
  } finally {
    await fh.close();
  }
});
same('writeFile with flush: true', (api) => api.writeFile('fl', 'data', { flush: true }));
same('writeFile with a non-boolean flush', (api) => api.writeFile('fl', 'data', { flush: 1 as unknown as boolean }));
same('appendFile creates then appends', async (api) => {
  await api.appendFile('log', 'one\n');
  await api.appendFile('log', Buffer.from('two\n'));
  return api.readFile('log', 'utf8');
});
same('appendFile with flag a+ and mode', (api) => api.appendFile('log2', 'x', { flag: 'a+', mode: 0o640 }));
same('appendFile to a missing directory is ENOENT', (api) => api.appendFile('no/log', 'x'));

// ------------------------------------------------------------------ stat family, access
same('stat of a file', (api) => api.stat('hello.txt'));
same('stat of a directory', (api) => api.stat('sub'));
same('stat follows symlinks', (api) => api.stat('link'));
same('lstat does not', (api) => api.lstat('link'));
same('stat of a missing file is ENOENT', (api) => api.stat('missing'));
same('stat through a file is ENOTDIR', (api) => api.stat('hello.txt/x'));
same('lstat of a missing file is ENOENT', (api) => api.lstat('missing'));
/** What code that keeps a Stats as data sees of its Dates: JSON, object spread, identity. */
async function datesAsData(st: Promise<Pick<nodeFs.Stats, 'atime' | 'mtime' | 'ctime' | 'birthtime'>>):
  Promise<unknown> {
  const s = await st;
  const json = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
  const spread: Record<string, unknown> = { ...s };
  const keys = ['atime', 'mtime', 'ctime', 'birthtime'] as const;
  return keys.map((k) => [k, json[k] === s[k].toISOString(), spread[k] === s[k], s[k] === s[k]]);
}
same('stat Dates survive JSON.stringify and object spread, and are one object', (api) =>
  datesAsData(api.stat('hello.txt')));
same('lstat Dates too', (api) => datesAsData(api.lstat('link')));
same('FileHandle stat Dates too', async (api) => {
  const fh = await api.open('hello.txt');
  try {
    return await datesAsData(fh.stat());
  } finally {
    await fh.close();
  }
});
same('stat with bigint', async (api) => typeof (await api.stat('hello.txt', { bigint: true })).size);
same('access of an existing file', (api) => api.access('hello.txt'));
same('access of a missing file is ENOENT', (api) => api.access('missing'));
same('access R_OK|W_OK', (api) => api.access('hello.txt', constants.R_OK | constants.W_OK));

// ------------------------------------------------------------------ directory operations
same('unlink a file', (api) => api.unlink('hello.txt'));
same('unlink a missing file is ENOENT', (api) => api.unlink('missing'));
same('unlink a directory is EISDIR', (api) => api.unlink('sub'));
same('unlink a symlink leaves its target', (api) => api.unlink('link'));
same('rename a file', (api) => api.rename('hello.txt', 'sub/moved'));
same('rename a missing file is ENOENT', (api) => api.rename('missing', 'x'));
same('rename a directory over a non-empty one is ENOTEMPTY', async (api) => {
  await api.mkdir('other');
  return api.rename('other', 'sub');
});
same('rename a file over a directory is EISDIR', (api) => api.rename('hello.txt', 'sub'));
same('mkdir', (api) => api.mkdir('newdir'));
same('mkdir with a mode', async (api) => { await api.mkdir('m700', 0o700); return api.stat('m700'); });
same('mkdir with an octal string mode', async (api) => { await api.mkdir('m750', '750'); return api.stat('m750'); });
same('mkdir of an existing directory is EEXIST', (api) => api.mkdir('sub'));
same('mkdir in a missing directory is ENOENT', (api) => api.mkdir('no/dir'));
same('mkdir recursive returns the first directory created', (api) => api.mkdir('a/b/c', { recursive: true }));
same('mkdir recursive below an existing directory', (api) => api.mkdir('sub/x/y', { recursive: true }));
same('mkdir recursive with a trailing slash', (api) => api.mkdir('t1/t2/', { recursive: true }));
same('mkdir recursive of an existing directory returns undefined', (api) => api.mkdir('sub/deeper', { recursive: true }));
same('mkdir recursive of an existing file is EEXIST', (api) => api.mkdir('hello.txt', { recursive: true }));
same('mkdir recursive below a file is ENOTDIR', (api) => api.mkdir('hello.txt/a/b', { recursive: true }));
same('mkdir recursive with a non-boolean', (api) => api.mkdir('q', { recursive: 1 as unknown as boolean }));
same('mkdir recursive with a mode', async (api) => {
  await api.mkdir('r1/r2', { recursive: true, mode: 0o700 });
  return [await api.stat('r1'), await api.stat('r1/r2')];
});
same('rmdir an empty directory', (api) => api.rmdir('sub/deeper'));
same('rmdir a non-empty directory is ENOTEMPTY', (api) => api.rmdir('sub'));
same('rmdir a file is ENOTDIR', (api) => api.rmdir('hello.txt'));
same('rmdir a missing directory is ENOENT', (api) => api.rmdir('missing'));
same('rmdir with a non-object as options', (api) => api.rmdir('sub/deeper', 5 as unknown as object));
same('readdir', async (api) => (await api.readdir('.')).sort());
same('readdir withFileTypes', async (api) =>
  (await api.readdir('sub', { withFileTypes: true })).sort((x, y) => x.name.localeCompare(y.name)));
same('readdir of a file is ENOTDIR', (api) => api.readdir('hello.txt'));
same('readdir of a missing directory is ENOENT', (api) => api.readdir('missing'));

// ------------------------------------------------------------------ copyFile
same('copyFile copies bytes', async (api) => { await api.copyFile('hello.txt', 'copy'); return api.readFile('copy'); });
same('copyFile keeps the source mode', async (api) => { await api.copyFile('mode640', 'c640'); return api.stat('c640'); });
same('copyFile of a 1.5 MiB file', (api) => api.copyFile('big', 'big2'));
same('copyFile of an empty file', (api) => api.copyFile('empty', 'empty2'));
same('copyFile over an existing file replaces it and takes the mode', (api) => api.copyFile('mode640', 'hello.txt'));
same('copyFile with COPYFILE_EXCL onto an existing file is EEXIST and keeps it', (api) =>
  api.copyFile('mode640', 'hello.txt', constants.COPYFILE_EXCL));
same('copyFile with COPYFILE_EXCL to a new file', (api) => api.copyFile('hello.txt', 'n', constants.COPYFILE_EXCL));
same('copyFile with COPYFILE_FICLONE', (api) => api.copyFile('hello.txt', 'cl', constants.COPYFILE_FICLONE));
same('copyFile of a missing source is ENOENT', (api) => api.copyFile('missing', 'x'));
same('copyFile of a directory is EISDIR', (api) => api.copyFile('sub', 'x'));
same('copyFile onto a directory is EISDIR', (api) => api.copyFile('hello.txt', 'sub'));
same('copyFile into a missing directory is ENOENT', (api) => api.copyFile('hello.txt', 'no/x'));
same('copyFile onto itself', (api) => api.copyFile('hello.txt', 'hello.txt'));
same('copyFile through a symlink onto its target', (api) => api.copyFile('link', 'hello.txt'));
same('copyFile with a bad mode', (api) => api.copyFile('hello.txt', 'x', 99));
same('copyFile with a null mode is mode 0', (api) => api.copyFile('hello.txt', 'x', null));
same('copyFile onto a dangling symlink creates its target with the source mode', async (api) => {
  nodeFs.symlinkSync('made-by-copy', 'dangling');
  await api.copyFile('mode640', 'dangling');
  return api.readFile('made-by-copy', 'utf8');
});
same('copyFile with COPYFILE_EXCL onto a dangling symlink is EEXIST', async (api) => {
  nodeFs.symlinkSync('never-made', 'dangling');
  return api.copyFile('mode640', 'dangling', constants.COPYFILE_EXCL);
});

// ------------------------------------------------------------------ truncate
same('truncate shortens', (api) => api.truncate('hello.txt', 5));
same('truncate extends with zeros', (api) => api.truncate('hello.txt', 20));
same('truncate defaults to 0', (api) => api.truncate('hello.txt'));
same('truncate with a negative length is 0', (api) => api.truncate('hello.txt', -3));
same('truncate of a missing file is ENOENT', (api) => api.truncate('missing', 1));
same('truncate of a directory is EISDIR', (api) => api.truncate('sub', 1));
same('truncate with a fractional length', (api) => api.truncate('hello.txt', 1.5));

// ------------------------------------------------------------------ FileHandle
same('a closed FileHandle has fd -1 and close() again resolves', async (api) => {
  const fh = await api.open('hello.txt');
  await fh.close();
  await fh.close();
  return fh.fd;
});
const closedOps: Array<[string, (fh: ours.FileHandle) => Promise<unknown>]> = [
  ['read', (fh) => fh.read(Buffer.alloc(4), 0, 4, 0)],
  ['read()', (fh) => fh.read()],
  ['write', (fh) => fh.write(Buffer.from('x'))],
  ['write string', (fh) => fh.write('x')],
  ['readv', (fh) => fh.readv([Buffer.alloc(2)])],
  ['writev', (fh) => fh.writev([Buffer.from('x')])],
  ['stat', (fh) => fh.stat()],
  ['truncate', (fh) => fh.truncate(1)],
  ['sync', (fh) => fh.sync()],
  ['datasync', (fh) => fh.datasync()],
  ['readFile', (fh) => fh.readFile()],
  ['writeFile', (fh) => fh.writeFile('x')],
  ['appendFile', (fh) => fh.appendFile('x')],
];
for (const [name, op] of closedOps) {
  same(`FileHandle.${name} after close is EBADF`, async (api) => {
    const fh = await api.open('hello.txt', 'r+');
    await fh.close();
    return op(fh);
  });
}
same('FileHandle.read forms', async (api) => {
  const fh = await api.open('hello.txt');
  try {
    const r1 = await fh.read(Buffer.alloc(5), 0, 5, 0);
    const r2 = await fh.read({ buffer: Buffer.alloc(4), position: 7 });
    const r3 = await fh.read(Buffer.alloc(6), { offset: 1, length: 3, position: 2 });
    const r4 = await fh.read();
    const r5 = await fh.read(Buffer.alloc(4), 0, 0, 0);
    const r6 = await fh.read(Buffer.alloc(4), 1, 2, null);
    const r7 = await fh.read(Buffer.alloc(10), 2);
    const r8 = await fh.read(Buffer.alloc(10), 2, null, 0);
    const r9 = await fh.read(Buffer.alloc(10), null, 3, 1);
    return [r1, r2, r3, r4.bytesRead, r4.buffer.length, r5, r6, r7, r8, r9];
  } finally {
    await fh.close();
  }
});
const badReads: Array<[string, (fh: ours.FileHandle) => Promise<unknown>]> = [
  ['negative length', (fh) => fh.read(Buffer.alloc(4), 0, -1, 0)],
  ['length past the end', (fh) => fh.read(Buffer.alloc(4), 0, 5, 0)],
  ['offset past the end', (fh) => fh.read(Buffer.alloc(4), 5, 1, 0)],
  ['negative offset', (fh) => fh.read(Buffer.alloc(4), -1, 1, 0)],
  ['fractional offset', (fh) => fh.read(Buffer.alloc(4), 1.5, 1, 0)],
  ['empty buffer', (fh) => fh.read(Buffer.alloc(0), 0, 1, 0)],
  ['a number as options', (fh) => fh.read(5 as unknown as Buffer)],
];
for (const [name, op] of badReads) {
  same(`FileHandle.read with ${name}`, async (api) => {
    const fh = await api.open('hello.txt');
    try {
      return await op(fh);
    } finally {
      await fh.close();
    }
  });
}
same('FileHandle.write forms', async (api) => {
  const fh = await api.open('hello.txt', 'r+');
  try {
    const w1 = await fh.write(Buffer.from('ABCDEF'), 1, 3, 0);
    const w2 = await fh.write(Buffer.from('zz'), { position: 8 });
    const w3 = await fh.write('ünï', 3, 'utf8');
    const w4 = await fh.write('6869', 0, 'hex');
    const w5 = await fh.write('tail');
    const w6 = await fh.write(Buffer.alloc(0));
    return [w1.bytesWritten, w2.bytesWritten, w3, w4, w5, w6.bytesWritten];
  } finally {
    await fh.close();
  }
});
const badWrites: Array<[string, (fh: ours.FileHandle) => Promise<unknown>]> = [
  ['length past the end', (fh) => fh.write(Buffer.alloc(4), 0, 5, 0)],
  ['offset past the end', (fh) => fh.write(Buffer.alloc(4), 5, 1, 0)],
  ['negative length', (fh) => fh.write(Buffer.alloc(4), 0, -1, 0)],
  ['a number', (fh) => fh.write(5 as unknown as string)],
];
for (const [name, op] of badWrites) {
  same(`FileHandle.write with ${name}`, async (api) => {
    const fh = await api.open('hello.txt', 'r+');
    try {
      return await op(fh);
    } finally {
      await fh.close();
    }
  });
}
same('FileHandle write to a read-only handle is EBADF', async (api) => {
  const fh = await api.open('hello.txt', 'r');
  try {
    return await fh.write('x');
  } finally {
    await fh.close();
  }
});
same('FileHandle readv/writev', async (api) => {
  const fh = await api.open('hello.txt', 'r+');
  try {
    const w = await fh.writev([Buffer.from('ab'), Buffer.from('cd')], 2);
    const r = await fh.readv([Buffer.alloc(3), Buffer.alloc(4)], 1);
    const e = await fh.writev([]);
    return [w, r, e];
  } finally {
    await fh.close();
  }
});
same('FileHandle.readv with a non-array', async (api) => {
  const fh = await api.open('hello.txt');
  try {
    return await fh.readv('x' as unknown as Buffer[]);
  } finally {
    await fh.close();
  }
});
same('FileHandle stat/truncate/sync/datasync/readFile/writeFile/appendFile', async (api) => {
  const fh = await api.open('hello.txt', 'a+');
  try {
    const st = await fh.stat();
    await fh.appendFile('more');
    await fh.writeFile(Buffer.from('+more'));
    await fh.sync();
    await fh.datasync();
    const text = await fh.readFile('utf8');
    await fh.truncate(3);
    const bad = await fh.truncate('x' as unknown as number).catch((e: NodeJS.ErrnoException) => e.code);
    return [st, text, (await fh.stat()).size, bad];
  } finally {
    await fh.close();
  }
});
same('FileHandle.readFile and writeFile with a signal that is not an AbortSignal', async (api) => {
  const fh = await api.open('hello.txt', 'r+');
  try {
    const bad = { signal: 'nope' as unknown as AbortSignal };
    return [await fh.readFile(bad).catch((e: NodeJS.ErrnoException) => e.code),
      await fh.writeFile('x', bad).catch((e: NodeJS.ErrnoException) => e.code),
      await api.readFile('hello.txt', bad).catch((e: NodeJS.ErrnoException) => e.code)];
  } finally {
    await fh.close();
  }
});
same('FileHandle.readFile with { encoding } and an aborted signal', async (api) => {
  const fh = await api.open('hello.txt');
  try {
    return [await fh.readFile({ encoding: 'utf8' }),
      await fh.readFile({ signal: AbortSignal.abort() }).catch((e: Error) => e.name)];
  } finally {
    await fh.close();
  }
});

rerunOnNodeBackend(test, __filename);
test.run();
