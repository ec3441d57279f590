/**
 * The addon's allocations that can fail for lack of memory: the registered
 * BufferPool (posix_memalign), a BufferGroup's provided-buffer ring (mmap),
 * the copy relays' buffers (mmap, once per ring) and the recycled result
 * buffers of the fs facade (mmap). A child process lowers its own
 * address-space limit (prlimit(1) on its pid, util-linux) to a little above
 * what it uses, so that each big allocation fails: each must fail with a
 * Node-shaped ENOMEM that names the call and says what to do, hold nothing
 * (no fd, no registration, no accounting), and leave the ring working: the
 * same thing, smaller or once memory is back, then works.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LIB, runNode, skipTest } from './helpers';

const script = `
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const lib = require(${JSON.stringify(LIB)});
const { Ring } = require(${JSON.stringify(path.join(LIB, 'ring'))});
const { native } = require(${JSON.stringify(path.join(LIB, 'native'))});
const MiB = 1 << 20;
const vmSize = () => Number(/VmSize:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const failure = (f) => { try { f(); return 'no error'; } catch (e) { return { code: e.code, syscall: e.syscall, message: e.message }; } };
(async () => {
  const ring = new Ring();
  const peers = [];
  const server = net.createServer((s) => peers.push(s));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const addr = native.encodeSockaddr('127.0.0.1', server.address().port);
  const fds = [];
  for (let i = 0; i < 2; i++) {
    fds.push(await ring.socket(native.socketConstants.AF_INET, native.socketConstants.SOCK_STREAM, 0));
    await ring.connect(fds[i], addr);
  }
  while (peers.length < 2) await new Promise((r) => setTimeout(r, 5));
  const out = {};
  const openBefore = fdCount();
  // From here on, at most 40 MiB more address space: each allocation below asks for 64 MiB, or 16 MiB once
  // a ballast holds 28 MiB (12 MiB left).
  execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vmSize() + 40 * MiB) + ':']);
  out.pool = failure(() => new lib.BufferPool(ring, { count: 256, size: 256 * 1024 }));
  const pool = new lib.BufferPool(ring, { count: 4, size: 4096 }); // the failed pool registered nothing
  pool.close();
  out.group = failure(() => new lib.BufferGroup(ring, 7, { count: 4096, size: 16384 }));
  const group = new lib.BufferGroup(ring, 7, { count: 4, size: 4096 }); // the same group id: nothing registered
  out.groupAfter = group.count;
  group.close();
  const accounts = JSON.stringify(native.recycledTrim(1e12));
  out.recycled = native.recycledBuffer(64 * MiB) === undefined ? 'undefined' : 'a buffer';
  out.recycledAccounts = JSON.stringify(native.recycledTrim(1e12)) === accounts;
  let ballast = Buffer.allocUnsafeSlow(28 * MiB);
  ballast.fill(1);
  out.relay = failure(() => ring.relay(fds[0], fds[1], { mode: 'copy' }));
  out.relayStats = ring.relayStats();
  // Memory back (the limit lifted: a freed ballast is not unmapped under ASan): the same relay starts.
  execFileSync('prlimit', ['--pid', String(process.pid), '--as=unlimited:']);
  ballast = undefined;
  const relay = ring.relay(fds[0], fds[1], { mode: 'copy' });
  const got = [];
  peers[1].on('data', (d) => got.push(d));
  peers[0].end('after the failure');
  const r = await relay.done;
  native.shutdownSync(fds[1], native.socketConstants.SHUT_WR);
  await new Promise((res) => peers[1].once('end', res));
  out.relayAfter = { eof: r.eof, text: Buffer.concat(got).toString() };
  out.fdsHeld = fdCount() - openBefore;
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

const canLimit = spawnSync('prlimit', ['--version'], { encoding: 'utf8' }).status === 0;

test('out of memory: BufferPool, BufferGroup, copy-relay buffers and recycled buffers fail cleanly, then work', () => {
  if (!canLimit) {
    skipTest('out-of-memory', 'prlimit(1) (util-linux) is missing');
    return;
  }
  // Under test:sanitize, ASan's allocator must return null like malloc (its default is to abort on failure).
  const asan = process.env.ASAN_OPTIONS;
  const env = asan ? { ASAN_OPTIONS: `${asan}:allocator_may_return_null=1` } : {};
  const r = runNode(script, { timeout: 30_000, env });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.is(out.pool.code, 'ENOMEM');
  assert.is(out.pool.syscall, 'posix_memalign', 'the failed call, not the registration that never ran');
  assert.match(out.pool.message, /could not allocate the pool's 67108864 bytes.*ulimit -v/);
  assert.is(out.group.code, 'ENOMEM');
  assert.is(out.group.syscall, 'mmap');
  assert.match(out.group.message, /4096 x 16384 bytes for buffer group 7/);
  assert.is(out.groupAfter, 4);
  assert.is(out.recycled, 'undefined', 'no recycled buffer: the caller falls back to a plain allocation');
  assert.ok(out.recycledAccounts, 'the failed mapping is not counted as live');
  assert.is(out.relay.code, 'ENOMEM');
  assert.is(out.relay.syscall, 'mmap');
  assert.match(out.relay.message, /copy-relay buffers \(16 MiB/);
  assert.is(out.relayStats.live, 0, 'the relay that did not start holds nothing');
  assert.equal(out.relayAfter, { eof: true, text: 'after the failure' });
  assert.is(out.fdsHeld, 0, 'no fd left by any failure');
});

test.run();
