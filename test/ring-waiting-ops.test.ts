/**
 * Socket operations that wait on a peer are not capped at the CQ size: with
 * more of them blocked than the CQ holds, other operations (and the ones
 * that would unblock them) still go to the kernel at once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeNet from 'node:net';
import { once } from 'node:events';
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import '../lib/ops-poll';
import { PollEvent } from '../lib/ops-poll';
import { Op } from '../lib/opcodes';
import * as fs from 'node:fs';
import { native } from '../lib/native';

const K = native.socketConstants;

test('more blocked sends and recvs than CQ entries do not hold back other operations', async () => {
  const ring = new Ring({ entries: 8, cqEntries: 16 });
  const peers: nodeNet.Socket[] = [];
  const srv = nodeNet.createServer((s) => { s.pause(); peers.push(s); }); // reads nothing
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = native.encodeSockaddr('127.0.0.1', (srv.address() as nodeNet.AddressInfo).port)!;
  const fds: number[] = [];
  try {
    for (let i = 0; i < 24; i++) {
      const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!, 0);
      fds.push(fd);
      await ring.connect(fd, addr);
    }
    const big = Buffer.alloc(16 * 1024 * 1024, 1);
    // 24 sends that cannot finish (the peers read nothing) and 24 recvs that wait for data: 48 > 16.
    const sends = fds.map((fd) => ring.send(fd, big).catch((e: Error) => e));
    const recvs = fds.map((fd) => ring.recv(fd, Buffer.alloc(16)).catch((e: Error) => e));
    let timer: NodeJS.Timeout | undefined;
    const verdict = await Promise.race([
      ring.nop().then(() => 'ran'),
      new Promise((r) => { timer = setTimeout(() => r('stuck behind the blocked socket ops'), 2000); }),
    ]);
    clearTimeout(timer);
    assert.is(verdict, 'ran');
    assert.is(ring.info().queued, 0, 'nothing waits in the JS backlog');
    // Unblock: the peers go away; every send and recv settles.
    while (peers.length < fds.length) await new Promise((r) => setTimeout(r, 5)); // node accepts lazily
    for (const p of peers) p.destroy();
    const sent = await Promise.all(sends);
    const got = await Promise.all(recvs);
    // Each send was blocked (the peers never read 16 MiB): it ends with a short count or the reset's
    // error; each recv ends (0) or fails.
    for (const r of sent) assert.ok(r instanceof Error || r < big.length, `send result ${String(r)}`);
    for (const r of got) assert.ok(r instanceof Error || r === 0, `recv result ${String(r)}`);
  } finally {
    ring.destroy(); // cancels anything still pending, so a failure above cannot hang here
    for (const fd of fds) { try { native.closeFd(fd); } catch { /* closed */ } }
    for (const p of peers) p.destroy();
    await new Promise((r) => srv.close(r));
  }
});

test('a capped operation waiting in the backlog does not hold back waiting (uncapped) ones', async () => {
  const ring = new Ring({ entries: 4, cqEntries: 8 });
  const cap = ring.info().cqEntries;
  const pipes: Array<[number, number]> = [];
  try {
    // cap + 1 reads on empty pipes: cap of them block in the kernel, the last one waits in the backlog.
    for (let i = 0; i <= cap; i++) {
      const [r, w] = native.makePipe(4096);
      pipes.push([r, w]);
    }
    const reads = pipes.map(([r]) => ring.read(r, Buffer.alloc(8), 0, 8, -1));
    await new Promise((r) => setImmediate(r));
    assert.is(ring.info().queued, 1, 'one read waits for room under the cap');
    // A poll that is ready at once must not queue behind that read.
    let timer: NodeJS.Timeout | undefined;
    const verdict = await Promise.race([
      ring.poll(pipes[0]![1], PollEvent.OUT).then(() => 'ran'),
      new Promise((r) => { timer = setTimeout(() => r('stuck behind the capped read'), 2000); }),
    ]);
    clearTimeout(timer);
    assert.is(verdict, 'ran');
    // Feed every pipe: all reads finish, including the one from the backlog, with the right bytes.
    for (let i = 0; i < pipes.length; i++) fs.writeSync(pipes[i]![1], Buffer.from(`pipe${i}`));
    const got = await Promise.all(reads);
    assert.equal(got, pipes.map((_, i) => `pipe${i}`.length));
    assert.is(ring.info().queued, 0);
  } finally {
    ring.destroy();
    for (const [r, w] of pipes) { native.closeFd(r); native.closeFd(w); }
  }
});

test('aborting one link of a chain that waits in the backlog drops the whole chain', async () => {
  // Old behaviour: only the aborted link was dropped; the link before it went to the kernel with
  // IOSQE_IO_LINK and chained itself to the next unrelated SQE (here a nop, cancelled with it).
  const ring = new Ring({ entries: 4, cqEntries: 8 });
  const cap = ring.info().cqEntries;
  const pipes: Array<[number, number]> = [];
  try {
    for (let i = 0; i < cap; i++) pipes.push(native.makePipe(4096).slice(0, 2) as [number, number]);
    const reads = pipes.map(([r]) => ring.read(r, Buffer.alloc(8), 0, 8, -1));
    const a = new AbortController();
    const b = new AbortController();
    const [deadR, deadW] = native.makePipe(4096);
    native.closeFd(deadR);
    native.closeFd(deadW); // a closed fd: the first link fails with EBADF if it is ever submitted
    const chain = ring.submitLinked([
      { opcode: Op.READ, fd: deadR, buf1: Buffer.alloc(8), len: 8, off: 0, syscall: 'read', signal: a.signal },
      { opcode: Op.NOP, syscall: 'nop', signal: b.signal },
    ]).then(() => 'resolved', (e: Error) => e.name);
    await new Promise((r) => setImmediate(r));
    assert.is(ring.info().queued, 2, 'the chain waits for room under the cap');
    b.abort();
    // Unblock the reads; in the same completion batch, submit an unrelated nop.
    const after = Promise.all(reads).then(() => ring.nop());
    for (const [, w] of pipes) fs.writeSync(w, Buffer.from('x'));
    assert.is(await after, 0, 'the unrelated nop ran on its own');
    assert.is(await chain, 'AbortError');
    assert.is(ring.info().queued, 0);
  } finally {
    ring.destroy();
    for (const [r, w] of pipes) { native.closeFd(r); native.closeFd(w); }
  }
});

test.run();
