/**
 * When io_uring is blocked (seccomp gives ENOSYS or EPERM), the Ring
 * constructor throws an error that says which and what to do. A preloaded
 * shim makes io_uring_setup fail exactly as a container's filter would.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { LIB, runNode, tempDir } from './helpers';

let shim = '';
let tmp: { dir: string; cleanup: () => void };

test.before(() => {
  tmp = tempDir();
  shim = path.join(tmp.dir, 'deny-uring.so');
  const src = path.join(__dirname, '..', '..', 'test', 'fixtures', 'deny-uring.c');
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-o', shim, src, '-ldl']);
});
test.after(() => tmp.cleanup());

/** `shim` after whatever is preloaded already (the sanitizer run preloads its runtimes, which must come first). */
function preload(shim: string): string {
  return [process.env.LD_PRELOAD, shim].filter(Boolean).join(' ');
}

function construct(errno: number): { code: string; errno: number; syscall: string; message: string } {
  const r = runNode(`
    const { Ring } = require(${JSON.stringify(LIB)});
    try { new Ring(); console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall, message: e.message })); }`,
  { env: { LD_PRELOAD: preload(shim), DENY_URING_ERRNO: String(errno) } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('ENOSYS (no io_uring or seccomp) names the cause and the remedy', () => {
  const e = construct(38);
  assert.is(e.code, 'ERR_IO_URING_UNAVAILABLE');
  assert.is(e.errno, -38);
  assert.is(e.syscall, 'io_uring_setup');
  assert.match(e.message, /ENOSYS/);
  assert.match(e.message, /seccomp/);
});

test('EPERM names the policy that denies it', () => {
  const e = construct(1);
  assert.is(e.code, 'ERR_IO_URING_UNAVAILABLE');
  assert.is(e.errno, -1);
  assert.match(e.message, /EPERM/);
  assert.match(e.message, /io_uring_disabled|seccomp|security policy/);
});

test.run();
