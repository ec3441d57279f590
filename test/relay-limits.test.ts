/**
 * A relay that cannot get a pipe: with the process out of file descriptors
 * (EMFILE), a splice relay's first read needs a pipe and cannot make one. It
 * must end with that error, named for pipe2, hold nothing, and leave the ring
 * and the other relays working once fds are free again. Runs in a child
 * process with a low RLIMIT_NOFILE (`ulimit -n`), so the fd table can be
 * filled quickly without touching the test runner's.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { LIB, skipTest } from './helpers';

const RAW = JSON.stringify(path.join(__dirname, 'raw-tcp-helpers'));

const script = `
const fs = require('node:fs');
require(${JSON.stringify(LIB)} + '/ops-relay');
const { withRawPairs, recvText, sendText } = require(${RAW});
const out = {};
withRawPairs(async (ring, { c, s, out: o, sink }) => {
  const relay = ring.relay(s, o, { mode: 'splice' });
  const filler = [];
  for (;;) {
    try { filler.push(fs.openSync('/dev/null', 'r')); } catch (e) { out.fill = e.code; break; }
  }
  sendText(c, 'needs a pipe');
  const r = await relay.done;
  out.error = r.error && { code: r.error.code, syscall: r.error.syscall };
  out.eof = r.eof;
  const st = ring.relayStats();
  out.held = [st.live, st.pipesInUse, st.pipesIdle];
  for (const fd of filler) fs.closeSync(fd);
  // The ring and a new relay work again: the bytes still queued on the source go through.
  const again = ring.relay(s, o, { mode: 'splice' });
  out.after = await recvText(ring, sink, 12);
  again.cancel();
  await again.done;
}).then(() => console.log(JSON.stringify(out)), (e) => { console.error(e); process.exit(1); });
`;

test('a splice relay out of fds for its pipe ends with EMFILE from pipe2, holds nothing, and the ring carries on', () => {
  // The soft limit only: a hard limit below 256 (a locked-down machine) cannot run this test, which says so.
  const r = spawnSync('sh', ['-c', 'ulimit -Sn 256 2>/dev/null || exit 77; exec "$0" -e "$1"', process.execPath, script],
    { encoding: 'utf8', timeout: 20_000 });
  if (r.status === 77) {
    skipTest('relay-limits', 'the hard fd limit is below 256');
    return;
  }
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.is(out.fill, 'EMFILE', 'the child filled its fd table');
  assert.equal(out.error, { code: 'EMFILE', syscall: 'pipe2' });
  assert.is(out.eof, false);
  assert.equal(out.held, [0, 0, 0], 'no relay, pipe or pooled pipe left');
  assert.is(out.after, 'needs a pipe', 'the bytes the failed relay never read are still there for the next one');
});

test.run();
