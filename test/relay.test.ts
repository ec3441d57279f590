/**
 * Ring.relay: bytes moved socket -> socket by the addon (lib/ops-relay.ts,
 * native/uring/relay.cc), in both modes (splice through a pipe; copy through
 * the ring's relay buffers). Byte-exact transfers, echo (src === dst),
 * backpressure, end of stream, peer reset, cancel and abort, a ring destroyed
 * under a live relay, bad arguments, and no pipe or fd left behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import '../lib/ops-relay';
import type { RelayMode } from '../lib/ops-relay';
import { native } from '../lib/native';
import { BufferGroup, RELAY_BGID } from '../lib/net/bufgroup';
import { openFds } from './helpers';
import { fdList, readToEnd, until } from './net-helpers';
import { withRawPairs, recvText, sendText, ringEntersDuring } from './raw-tcp-helpers';

const K = native.socketConstants;

/**
 * A node:net server and `n` ring sockets connected to it: `fds[i]` is our end,
 * `peers[i]` the server's node:net Socket for it.
 */
async function connected(ring: Ring, n: number): Promise<{ fds: number[]; peers: net.Socket[]; close: () => Promise<void> }> {
  const peers: net.Socket[] = [];
  const server = net.createServer((s) => { peers.push(s); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = native.encodeSockaddr('127.0.0.1', (server.address() as net.AddressInfo).port)!;
  const fds: number[] = [];
  for (let i = 0; i < n; i++) {
    const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!, 0);
    await ring.connect(fd, addr);
    await until(() => peers.length === i + 1, 5000, 'accept');
    fds.push(fd);
  }
  return {
    fds,
    peers,
    close: async () => {
      for (const p of peers) p.destroy();
      for (const fd of fds) await ring.close(fd).catch(() => undefined);
      await new Promise((r) => server.close(r));
    },
  };
}

/** Runs `fn` with a new ring and `n` connected sockets; closes both afterwards, whatever happens. */
async function withConnected(n: number,
  fn: (ring: Ring, c: Awaited<ReturnType<typeof connected>>) => Promise<void>): Promise<void> {
  const ring = new Ring();
  const c = await connected(ring, n);
  try {
    await fn(ring, c);
  } finally {
    await c.close();
    ring.destroy();
  }
}

async function fdsSettle(before: number, count: () => number = openFds): Promise<number> {
  for (let i = 0; i < 50 && count() > before; i++) await new Promise((r) => setTimeout(r, 20));
  return count();
}

/** Open pipe fds of this process (what a relay's pool holds; other fds may open lazily in Node). */
function pipeFds(): number {
  return fdList().filter((f) => f.includes(':pipe:')).length;
}

for (const mode of ['splice', 'copy', 'auto'] as RelayMode[]) {
  test(`${mode}: relay moves 24 MiB byte-exact and ends at end of stream; no pipe stays in use`, async () => {
    const before = pipeFds();
    await withConnected(2, async (ring, c) => {
      const payload = crypto.randomBytes(24 << 20);
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      const got = readToEnd(c.peers[1]!);
      c.peers[0]!.end(payload); // one big write: the source stays full, the relay yields and resumes
      const r = await relay.done;
      assert.is(r.eof, true);
      assert.is(r.error, undefined);
      assert.is(r.bytes, payload.length);
      assert.is(relay.bytes, payload.length);
      // What passed through user-space memory: nothing (splice), everything (copy), little (auto: bulk is spliced).
      if (mode === 'splice') assert.is(r.copiedBytes, 0);
      else if (mode === 'copy') assert.is(r.copiedBytes, payload.length);
      else assert.ok(r.copiedBytes > 0 && r.copiedBytes < payload.length / 4, `auto copied ${r.copiedBytes}`);
      native.shutdownSync(c.fds[1]!, K.SHUT_WR!); // the caller propagates the half-close
      const out = await got;
      assert.is(out.length, payload.length);
      assert.ok(out.equals(payload), 'bytes differ');
      const st = ring.relayStats();
      assert.equal([st.live, st.pipesInUse], [0, 0]);
      if (mode !== 'copy') assert.ok(st.pipesIdle >= 1, 'the pipe went back to the pool');
      else assert.is(st.pipesIdle, 0, 'copy mode uses no pipe');
    });
    assert.ok((await fdsSettle(before, pipeFds)) <= before, 'the pooled pipes are closed with the ring');
  });

  test(`${mode}: relay with src === dst is an echo; idle relays hold no pipe`, async () => {
    await withConnected(20, async (ring, c) => {
      const relays = c.fds.map((fd) => ring.relay(fd, fd, { mode }));
      await Promise.all(c.peers.map(async (p, i) => {
        const msg = crypto.randomBytes(1 + i * 997);
        const got: Buffer[] = [];
        let len = 0;
        p.on('data', (d: Buffer) => { got.push(d); len += d.length; });
        p.write(msg);
        await until(() => len >= msg.length, 5000, `echo ${i}`);
        assert.ok(Buffer.concat(got).equals(msg), `echo ${i} differs`);
      }));
      const st = ring.relayStats();
      assert.is(st.live, 20);
      assert.is(st.pipesInUse, 0, 'idle relays hold no pipe');
      assert.is(st.buffersHeld, 0, 'idle relays hold no buffer');
      for (const p of c.peers) p.end();
      const rs = await Promise.all(relays.map((r) => r.done));
      assert.ok(rs.every((r) => r.eof && !r.error), JSON.stringify(rs));
    });
  });

  test(`${mode}: backpressure: a destination that does not read stops the relay from reading`, async () => {
    await withConnected(2, async (ring, c) => {
      const slow = c.peers[1]!;
      slow.pause();
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      const payload = crypto.randomBytes(64 << 20);
      c.peers[0]!.write(payload);
      let last = -1;
      // Wait until the relay stopped moving: the destination's buffers are full.
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 30));
        if (relay.bytes === last && last > 0) break;
        last = relay.bytes;
      }
      assert.ok(relay.bytes < payload.length / 2, `moved ${relay.bytes} of ${payload.length} with a paused reader`);
      assert.ok(c.peers[0]!.writableLength > 0, 'the writer is held back');
      if (mode !== 'copy') assert.is(ring.relayStats().pipesInUse, 1, 'one pipe-ful is buffered at most');
      // Copy mode: the relay stopped receiving at 4 of the 64 shared buffers (unbounded, it takes them all).
      else assert.ok(ring.relayStats().buffersHeld <= 4, `buffers held ${ring.relayStats().buffersHeld}`);
      // Resume: everything arrives, byte-exact.
      const got = readToEnd(slow);
      slow.resume();
      c.peers[0]!.end();
      const r = await relay.done;
      assert.is(r.bytes, payload.length);
      native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
      assert.ok((await got).equals(payload));
    });
  });

  test(`${mode}: cancel while stalled on a full destination ends the relay and frees what it held`, async () => {
    await withConnected(2, async (ring, c) => {
      c.peers[1]!.pause();
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      c.peers[0]!.write(crypto.randomBytes(32 << 20));
      await until(() => relay.bytes > 0 && (ring.relayStats().pipesInUse > 0 || ring.relayStats().buffersHeld > 0),
        5000, 'the relay to hold bytes');
      await new Promise((r) => setTimeout(r, 100)); // stalled: waiting for POLLOUT (splice) or paused (copy)
      relay.cancel();
      const r = await relay.done;
      assert.is(r.error?.code, 'ECANCELED');
      assert.equal(ring.relayStats(), { ...ring.relayStats(), live: 0, pipesInUse: 0, buffersHeld: 0 });
    });
  });

  test(`${mode}: cancel() and an aborted signal end a relay; the fds stay usable and no pipe is kept`, async () => {
    await withConnected(2, async (ring, c) => {
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      relay.cancel();
      relay.cancel(); // idempotent
      const r = await relay.done;
      assert.is(r.eof, false);
      assert.is(r.error?.code, 'ECANCELED');
      const ac = new AbortController();
      const second = ring.relay(c.fds[0]!, c.fds[1]!, { mode, signal: ac.signal });
      const got = readToEnd(c.peers[1]!);
      c.peers[0]!.write('before abort');
      await until(() => second.bytes === 12, 5000, 'first bytes');
      ac.abort();
      const r2 = await second.done;
      assert.is(r2.error?.name, 'AbortError');
      assert.is(r2.bytes, 12);
      // A signal that is already aborted ends the relay at once.
      const third = await ring.relay(c.fds[0]!, c.fds[1]!, { mode, signal: AbortSignal.abort() }).done;
      assert.is(third.error?.name, 'AbortError');
      assert.is(third.failedEnd, undefined, 'an abort is no socket failure');
      // The sockets still work: a new relay carries on where the old ones stopped.
      const fourth = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      c.peers[0]!.end(' and after');
      assert.is((await fourth.done).eof, true);
      native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
      assert.is((await got).toString(), 'before abort and after');
      assert.equal(ring.relayStats().live, 0);
      assert.equal(ring.relayStats().pipesInUse, 0);
    });
  });

  test(`${mode}: a destination reset by its peer ends the relay with the failed call's error; nothing is reused`, async () => {
    await withConnected(2, async (ring, c) => {
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      c.peers[1]!.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 50));
      const big = crypto.randomBytes(4 << 20);
      c.peers[0]!.write(big);
      c.peers[0]!.on('error', () => undefined);
      const r = await relay.done;
      assert.is(r.eof, false);
      assert.ok(r.error && ['ECONNRESET', 'EPIPE'].includes(r.error.code!), `error ${r.error?.code}`);
      // auto: 'send' when the message was copied, 'splice' when it was in bulk.
      const calls = { splice: ['splice'], copy: ['send'], auto: ['send', 'splice'] }[mode];
      assert.ok(calls.includes(r.error!.syscall!), `syscall ${r.error?.syscall}`);
      assert.is(r.failedEnd, 'destination', 'the failure names the socket it was on');
      const st = ring.relayStats();
      assert.is(st.pipesInUse, 0);
      assert.is(st.pipesIdle, 0, 'a pipe with bytes left inside is closed, not pooled');
      assert.is(st.buffersHeld, 0);
    });
  });

  test(`${mode}: destroying the ring under live relays ends them with ECANCELED and closes the pool`, async () => {
    const before = openFds();
    const ring = new Ring();
    const c = await connected(ring, 2);
    const relays = [ring.relay(c.fds[0]!, c.fds[1]!, { mode }), ring.relay(c.fds[1]!, c.fds[0]!, { mode })];
    c.peers[0]!.write(crypto.randomBytes(1 << 20));
    c.peers[1]!.pause();
    await new Promise((r) => setTimeout(r, 50));
    ring.destroy();
    const rs = await Promise.all(relays.map((r) => r.done));
    for (const r of rs) assert.is(r.error?.code, 'ECANCELED');
    assert.ok(relays[0]!.bytes > 0, 'bytes moved before the destroy are still reported');
    for (const p of c.peers) p.destroy();
    for (const fd of c.fds) native.closeFd(fd);
    await c.close().catch(() => undefined);
    assert.ok((await fdsSettle(before)) <= before, `fds before ${before}, after ${openFds()}`);
  });
}

test('copy: more relays than buffers with stalled readers; each waits for a buffer and every byte arrives', async () => {
  const ring = new Ring();
  const n = 40; // 40 stalled relays holding up to 256 KiB each exhaust the 64 shared buffers
  const c = await connected(ring, 2 * n);
  try {
    const relays = [];
    const payloads: Buffer[] = [];
    const got: Promise<Buffer>[] = [];
    for (let i = 0; i < n; i++) {
      const dst = c.peers[2 * i + 1]!;
      dst.pause();
      // A small send buffer (no autotuning): the relay stalls after a few hundred KiB and holds its 4 buffers.
      native.setsockopt(c.fds[2 * i + 1]!, K.SOL_SOCKET!, K.SO_SNDBUF!, 8192);
      relays.push(ring.relay(c.fds[2 * i]!, c.fds[2 * i + 1]!, { mode: 'copy' }));
      payloads.push(crypto.randomBytes(3 << 20));
      c.peers[2 * i]!.end(payloads[i]);
    }
    await until(() => ring.relayStats().bufferWaits > 0, 5000, 'a relay to find the buffers gone');
    // Relays with nothing in the kernel (waiting for a buffer) still end when cancelled.
    const extra = await connected(ring, 2);
    const waiting = ring.relay(extra.fds[0]!, extra.fds[1]!, { mode: 'copy' });
    extra.peers[0]!.write('x');
    const waitsBefore = ring.relayStats().bufferWaits;
    await until(() => ring.relayStats().bufferWaits > waitsBefore, 5000, 'the extra relay to wait for a buffer');
    waiting.cancel();
    assert.is((await waiting.done).error?.code, 'ECANCELED');
    await extra.close();
    for (let i = 0; i < n; i++) {
      got.push(readToEnd(c.peers[2 * i + 1]!));
      c.peers[2 * i + 1]!.resume();
    }
    const rs = await Promise.all(relays.map((r) => r.done));
    for (let i = 0; i < n; i++) {
      assert.is(rs[i]!.bytes, payloads[i]!.length, `relay ${i}`);
      native.shutdownSync(c.fds[2 * i + 1]!, K.SHUT_WR!);
    }
    const outs = await Promise.all(got);
    for (let i = 0; i < n; i++) assert.ok(outs[i]!.equals(payloads[i]!), `relay ${i} bytes differ`);
  } finally {
    await c.close();
    ring.destroy();
  }
});

test('auto: small messages are copied without a pipe, bulk is spliced, and every byte arrives in order', async () => {
  await withConnected(2, async (ring, c) => {
    const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode: 'auto' });
    const got: Buffer[] = [];
    let len = 0;
    c.peers[1]!.on('data', (d: Buffer) => { got.push(d); len += d.length; });
    const sent: Buffer[] = [];
    // Request/response sized messages, one at a time: each readiness event brings under 16 KiB.
    for (let i = 0; i < 30; i++) {
      const m = crypto.randomBytes(4096);
      sent.push(m);
      c.peers[0]!.write(m);
      await until(() => len === 4096 * (i + 1), 5000, `message ${i}`);
    }
    const st = ring.relayStats();
    assert.equal([st.pipesInUse, st.pipesIdle], [0, 0], 'small messages took no pipe');
    // Then bulk, then small again.
    const bulk = crypto.randomBytes(8 << 20);
    sent.push(bulk);
    c.peers[0]!.write(bulk);
    await until(() => len === 30 * 4096 + bulk.length, 10_000, 'bulk');
    assert.ok(ring.relayStats().pipesIdle >= 1, 'bulk went through a pooled pipe');
    for (let i = 0; i < 10; i++) {
      const m = crypto.randomBytes(100 + i);
      sent.push(m);
      c.peers[0]!.write(m);
      await until(() => len === Buffer.concat(sent).length, 5000, `small message ${i} after bulk`);
    }
    c.peers[0]!.end();
    const r = await relay.done;
    const all = Buffer.concat(sent);
    assert.is(r.eof, true);
    assert.is(r.bytes, all.length);
    assert.ok(Buffer.concat(got).equals(all), 'bytes differ');
    // The 30 + 10 small messages were copied; of the bulk, at most a fraction.
    assert.ok(r.copiedBytes >= 30 * 4096 + 1045, `copied ${r.copiedBytes}`);
    assert.ok(r.copiedBytes < 30 * 4096 + 1045 + bulk.length / 4, `copied ${r.copiedBytes} of ${r.bytes}`);
  });
});

test('auto: a burst of small writes of random sizes arrives byte-exact (no message stranded)', async () => {
  await withConnected(2, async (ring, c) => {
    // Both directions of one pair at once, each a stream of small writes with no pause between them.
    const ab = ring.relay(c.fds[0]!, c.fds[1]!, { mode: 'auto' });
    const ba = ring.relay(c.fds[1]!, c.fds[0]!, { mode: 'auto' });
    const parts: Buffer[][] = [[], []];
    for (let i = 0; i < 2000; i++) {
      for (const side of [0, 1]) {
        const m = crypto.randomBytes(1 + crypto.randomInt(3000));
        parts[side]!.push(m);
        c.peers[side]!.write(m);
      }
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    const got = [readToEnd(c.peers[1]!), readToEnd(c.peers[0]!)];
    c.peers[0]!.end();
    c.peers[1]!.end();
    const [r1, r2] = await Promise.all([ab.done, ba.done]);
    assert.ok(r1.eof && r2.eof, JSON.stringify([r1, r2]));
    native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
    native.shutdownSync(c.fds[0]!, K.SHUT_WR!);
    const [to1, to0] = await Promise.all(got);
    assert.ok(to1!.equals(Buffer.concat(parts[0]!)), 'peer 0 -> peer 1 differs');
    assert.ok(to0!.equals(Buffer.concat(parts[1]!)), 'peer 1 -> peer 0 differs');
    assert.equal([ring.relayStats().live, ring.relayStats().pipesInUse], [0, 0]);
  });
});

test('auto: bytes and the end of stream already queued before the relay starts: it reads on to the end', async () => {
  await withConnected(2, async (ring, c) => {
    // One readiness event carries both the data and the FIN; a short recv must not be taken as "drained".
    const msg = crypto.randomBytes(5000);
    c.peers[0]!.end(msg);
    await new Promise((r) => setTimeout(r, 50)); // both queued on our socket before the poll is armed
    const got = readToEnd(c.peers[1]!);
    const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode: 'auto' });
    const stuck = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 5000).unref());
    const r = await Promise.race([relay.done, stuck]);
    if (r === 'stuck') {
      relay.cancel();
      assert.unreachable(`the relay never saw the end of stream (moved ${relay.bytes} of ${msg.length})`);
      return;
    }
    assert.is(r.eof, true);
    assert.is(r.bytes, msg.length);
    assert.is(r.copiedBytes, msg.length);
    native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
    assert.ok((await got).equals(msg));
  });
});

// The call that meets the reset: splice mode reads with splice(2), copy and auto (small messages) with recv(2).
for (const [mode, call] of [['splice', 'splice'], ['copy', 'recv'], ['auto', 'recv']] as Array<[RelayMode, string]>) {
  test(`${mode}: a source reset by its peer ends the relay with the ${call} error; nothing is held`, async () => {
    await withConnected(2, async (ring, c) => {
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      c.peers[0]!.write('some bytes first');
      await until(() => relay.bytes === 16, 5000, 'first bytes');
      c.peers[0]!.resetAndDestroy();
      const r = await relay.done;
      assert.is(r.eof, false);
      assert.is(r.error?.code, 'ECONNRESET');
      assert.is(r.error?.syscall, call);
      assert.is(r.failedEnd, 'source', 'the failure names the socket it was on');
      assert.is(r.bytes, 16);
      const st = ring.relayStats();
      assert.equal([st.live, st.pipesInUse, st.buffersHeld], [0, 0, 0]);
    });
  });
}

/** Fills `fd`'s send path (its peer paused) until the kernel takes nothing more; returns what was sent. */
async function fillSocket(fd: number): Promise<Buffer[]> {
  native.setNonBlocking(fd, true);
  const filler = crypto.randomBytes(64 << 10);
  const fill: Buffer[] = [];
  for (let idle = 0; idle < 5;) {
    const n = native.sendNow(fd, filler, 0, filler.length, 0);
    if (n > 0) {
      fill.push(filler.subarray(0, n));
      idle = 0;
    } else {
      idle++;
      await new Promise((r) => setTimeout(r, 20)); // let the reader's buffer fill and stop
    }
  }
  return fill;
}

test('auto: a small message the destination cannot take waits in the relay and arrives after the stall', async () => {
  await withConnected(2, async (ring, c) => {
    const reader = c.peers[1]!;
    reader.pause();
    const fill = await fillSocket(c.fds[1]!);
    const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode: 'auto' });
    const msg = crypto.randomBytes(3000);
    c.peers[0]!.write(msg);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(relay.bytes < msg.length, `sent ${relay.bytes} into a full socket`);
    assert.is(ring.relayStats().pipesInUse, 0, 'a copied message waits in the relay, not in a pipe');
    const got = readToEnd(reader);
    reader.resume();
    c.peers[0]!.end();
    const r = await relay.done;
    assert.is(r.eof, true);
    assert.is(r.bytes, msg.length);
    assert.is(r.copiedBytes, msg.length);
    native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
    const out = await got;
    assert.ok(out.equals(Buffer.concat([...fill, msg])), 'filler then message, byte-exact');
    assert.equal([ring.relayStats().live, ring.relayStats().pipesInUse], [0, 0]);
  });
});

for (const pipeSize of [undefined, 4096]) {
  test(`auto: bytes waiting for one destination are not touched by another relay on the ring (pipeSize ${pipeSize ?? 'default'})`, async () => {
    await withConnected(4, async (ring, c) => {
      // Relay A stalls with its message unsent; relay B, same ring, then copies other bytes through.
      c.peers[1]!.pause();
      const fill = await fillSocket(c.fds[1]!);
      const a = ring.relay(c.fds[0]!, c.fds[1]!, { mode: 'auto', pipeSize });
      const b = ring.relay(c.fds[2]!, c.fds[3]!, { mode: 'auto', pipeSize });
      const msgA = Buffer.alloc(4096, 'A');
      const msgB = Buffer.alloc(4096, 'B');
      c.peers[0]!.write(msgA);
      await new Promise((r) => setTimeout(r, 100));
      const gotB = readToEnd(c.peers[3]!);
      c.peers[2]!.end(msgB);
      assert.is((await b.done).bytes, msgB.length);
      native.shutdownSync(c.fds[3]!, K.SHUT_WR!);
      assert.ok((await gotB).equals(msgB));
      const gotA = readToEnd(c.peers[1]!);
      c.peers[1]!.resume();
      c.peers[0]!.end();
      const ra = await a.done;
      assert.ok(ra.eof && !ra.error, JSON.stringify(ra));
      native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
      const outA = await gotA;
      assert.ok(outA.subarray(outA.length - msgA.length).equals(msgA), 'A receives its own bytes, not B\'s');
      assert.ok(outA.equals(Buffer.concat([...fill, msgA])));
    });
  });
}

for (const mode of ['auto', 'splice'] as RelayMode[]) {
  test(`${mode}: urgent data does not strand the bytes behind it (splice(2) stops at the urgent mark)`, async () => {
    await withRawPairs(async (ring, { c, s, out, sink }) => {
      // 'abc', then 'd' as urgent data, then 'efg', all queued before the relay starts: a read stops at the mark.
      sendText(c, 'abc');
      sendText(c, 'd', true);
      sendText(c, 'efg');
      await new Promise((r) => setTimeout(r, 50));
      const relay = ring.relay(s, out, { mode });
      // Without SO_OOBINLINE the urgent byte is out of band: the stream is 'abcefg'.
      await until(() => relay.bytes >= 6, 3000, 'the bytes after the urgent mark');
      relay.cancel();
      await relay.done;
      assert.is(await recvText(ring, sink, 6), 'abcefg');
    });
  });
}

for (const mode of ['auto', 'splice'] as RelayMode[]) {
  test(`${mode}: urgent data as the last byte: the relay goes idle (no busy loop) and carries on with what comes next`, async () => {
    await withRawPairs(async (ring, { c, s, out, sink }) => {
      sendText(c, 'abc');
      sendText(c, 'd', true);
      await new Promise((r) => setTimeout(r, 50));
      const relay = ring.relay(s, out, { mode });
      await until(() => relay.bytes >= 3, 3000, "the bytes before the urgent mark");
      // A poll that kept firing for the urgent byte would make the ring enter the kernel without end.
      await new Promise((r) => setTimeout(r, 50));
      const busy = await ringEntersDuring(ring, 300);
      assert.ok(busy < 20, `the idle relay made the ring enter the kernel ${busy} times in 300 ms`);
      sendText(c, 'efg');
      await until(() => relay.bytes >= 6, 3000, 'the bytes sent after the urgent byte');
      relay.cancel();
      await relay.done;
      assert.is(await recvText(ring, sink, 6), 'abcefg');
    });
  });

  test(`${mode}: urgent data, more bytes and the end of stream all queued before the start: every normal byte arrives`, async () => {
    await withRawPairs(async (ring, { c, s, out, sink }) => {
      // At the mark with the peer's FIN queued, splice(2) reads 0, not EAGAIN: it must not pass for the end.
      sendText(c, 'abc');
      sendText(c, 'd', true);
      sendText(c, 'efg');
      native.shutdownSync(c, K.SHUT_WR!);
      await new Promise((r) => setTimeout(r, 50));
      const r = await ring.relay(s, out, { mode }).done;
      assert.ok(r.eof, `ended at end of stream (${r.error?.message ?? ''})`);
      assert.is(r.bytes, 6);
      native.shutdownSync(out, K.SHUT_WR!);
      assert.is(await recvText(ring, sink, 16), 'abcefg', 'and then the end of stream');
    });
  });

  test(`${mode}: a source whose error queue fills (TX timestamps) does not make the relay spin`, async () => {
    await withConnected(1, async (ring, c) => {
      // SO_TIMESTAMPING (37 in Linux's asm-generic socket.h) with TX_SOFTWARE | SOFTWARE | TX_SCHED: every send
      // of the echo queues timestamps on the socket's error queue, which poll reports as POLLERR until read.
      native.setsockopt(c.fds[0]!, K.SOL_SOCKET!, 37, (1 << 1) | (1 << 4) | (1 << 8));
      const relay = ring.relay(c.fds[0]!, c.fds[0]!, { mode });
      const echoed: Buffer[] = [];
      c.peers[0]!.on('data', (d: Buffer) => echoed.push(d));
      c.peers[0]!.write('hello');
      await until(() => Buffer.concat(echoed).length >= 5, 3000, 'the echo');
      await new Promise((r) => setTimeout(r, 50));
      const busy = await ringEntersDuring(ring, 300);
      assert.ok(busy < 20, `the idle relay made the ring enter the kernel ${busy} times in 300 ms`);
      c.peers[0]!.write('world');
      await until(() => Buffer.concat(echoed).length >= 10, 3000, 'the second echo');
      assert.is(Buffer.concat(echoed).toString(), 'helloworld');
      relay.cancel();
      await relay.done;
    });
  });

  test(`${mode}: reads cut short by a one-page pipe: the relay goes on by itself until every byte is through`, async () => {
    // Many small segments queued before the relay starts, and a pipe of one page: each splice takes at most one
    // page (a short read that did not drain the socket). Nothing new arrives to wake the relay: it must see the
    // rest on its own.
    await withConnected(2, async (ring, c) => {
      const msg = crypto.randomBytes(100);
      const sent: Buffer[] = [];
      for (let i = 0; i < 400; i++) {
        const m = Buffer.concat([Buffer.from(String(i).padStart(4, '0')), msg]);
        sent.push(m);
        c.peers[0]!.write(m);
      }
      await new Promise((r) => setTimeout(r, 100));
      const got = readToEnd(c.peers[1]!);
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode, pipeSize: 4096 });
      const expected = Buffer.concat(sent);
      await until(() => relay.bytes >= expected.length, 3000, `all ${expected.length} bytes (relay moved ${relay.bytes})`);
      c.peers[0]!.end();
      const r = await relay.done;
      assert.ok(r.eof, `the relay ended at end of stream (${r.error?.message ?? ''})`);
      assert.is(r.bytes, expected.length);
      native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
      assert.ok((await got).equals(expected), 'byte-exact, in order');
    });
  });
}

for (const mode of ['splice', 'auto', 'copy'] as RelayMode[]) {
  test(`${mode}: a destination whose peer half-closed and does not read: the waiting relay stays idle, and every byte arrives once it reads`, async () => {
    await withConnected(2, async (ring, c) => {
      // io_uring adds POLLRDHUP to every poll: a one-shot POLLOUT on such a destination completed at once, forever.
      const reader = c.peers[1]!;
      reader.pause();
      reader.end(); // FIN towards the relay's destination; the peer still reads (later)
      const data = crypto.randomBytes(8 << 20);
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      c.peers[0]!.end(data);
      await until(() => relay.bytes > 0, 3000, 'the first bytes');
      await new Promise((r) => setTimeout(r, 300)); // every buffer on the way fills up
      assert.ok(relay.bytes < data.length, `the stalled destination took all ${relay.bytes} bytes`);
      const enters = await ringEntersDuring(ring, 1000);
      assert.ok(enters < 50, `the waiting relay made the ring enter the kernel ${enters} times in 1 s`);
      const got = readToEnd(reader);
      reader.resume();
      const r = await relay.done;
      assert.is(r.eof, true, String(r.error));
      assert.is(r.bytes, data.length);
      native.shutdownSync(c.fds[1]!, K.SHUT_WR!);
      assert.ok((await got).equals(data), 'byte-exact after the wait');
    });
  });

  test(`${mode}: a source reset while the relay waits for a destination that does not read ends the relay with ECONNRESET`, async () => {
    await withConnected(2, async (ring, c) => {
      c.peers[1]!.pause();
      const relay = ring.relay(c.fds[0]!, c.fds[1]!, { mode });
      const writer = c.peers[0]!;
      writer.on('error', () => undefined);
      writer.write(crypto.randomBytes(8 << 20));
      await until(() => relay.bytes > 0, 3000, 'the first bytes');
      await new Promise((r) => setTimeout(r, 300)); // the relay now waits for the destination, not reading
      writer.resetAndDestroy();
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 3000));
      const r = await Promise.race([relay.done, timeout]);
      assert.ok(r !== 'timeout', 'the relay never noticed the reset of its source');
      assert.is(r.eof, false);
      assert.is(r.error?.code, 'ECONNRESET', String(r.error));
      assert.equal([ring.relayStats().live, ring.relayStats().pipesInUse], [0, 0]);
    });
  });
}

test('onEnd gets the result and the relay; a throwing onEnd is an uncaught exception and other relays still end', async () => {
  const ring = new Ring();
  const c = await connected(ring, 2);
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => { uncaught.push(e); };
  process.on('uncaughtException', onUncaught);
  try {
    const seen: Array<[number, boolean, number]> = [];
    const onEnd = (r: { bytes: number; eof: boolean }, relay: { src: number }): void => {
      seen.push([relay.src, r.eof, r.bytes]);
      if (relay.src === c.fds[0]) throw new Error('onEnd failed');
    };
    const a = ring.relay(c.fds[0]!, c.fds[0]!, { mode: 'copy', onEnd });
    const b = ring.relay(c.fds[1]!, c.fds[1]!, { onEnd });
    c.peers[0]!.on('data', () => undefined);
    c.peers[1]!.on('data', () => undefined);
    c.peers[0]!.end('abc');
    c.peers[1]!.end('de');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal([ra.bytes, rb.bytes], [3, 2]);
    await until(() => uncaught.length === 1, 2000, 'the uncaught exception');
    assert.equal(seen.sort((x, y) => x[0] - y[0]), [[c.fds[0]!, true, 3], [c.fds[1]!, true, 2]]);
    assert.match(String(uncaught[0]), /onEnd failed/);
    assert.is(a.done, a.done, 'done is one Promise');
    assert.throws(() => ring.relay(c.fds[0]!, c.fds[0]!, { onEnd: 5 as unknown as () => void }), /onEnd/);
  } finally {
    process.off('uncaughtException', onUncaught);
    await c.close();
    ring.destroy();
  }
});

test('copy: idle relay buffers are given back to the kernel, and bytes after that still arrive intact', async () => {
  await withConnected(1, async (ring, c) => {
    const relay = ring.relay(c.fds[0]!, c.fds[0]!, { mode: 'copy' });
    const peer = c.peers[0]!;
    let got = Buffer.alloc(0);
    peer.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); });
    const sent: Buffer[] = [];
    const trimsBefore = ring.relayStats().bufferTrims;
    // Rounds of traffic more than a second apart: the buffers are idle in between.
    for (let round = 0; round < 3; round++) {
      const msg = crypto.randomBytes(200_000);
      sent.push(msg);
      peer.write(msg);
      const want = Buffer.concat(sent).length;
      await until(() => got.length >= want, 5000, `round ${round}`);
      await new Promise((r) => setTimeout(r, 1100));
    }
    assert.ok(got.equals(Buffer.concat(sent)), 'echo differs');
    assert.ok(ring.relayStats().bufferTrims > trimsBefore, `trims ${ring.relayStats().bufferTrims}`);
    peer.end();
    assert.is((await relay.done).eof, true);
  });
});

test('destroying the ring from inside onEnd is safe; the other relays end with ECANCELED', async () => {
  await withConnected(3, async (ring, c) => {
    const ends: Array<string | undefined> = [];
    const onEnd = (r: { error?: NodeJS.ErrnoException }): void => {
      ends.push(r.error?.code);
      ring.destroy(); // first end: tear the ring down from inside the completion
    };
    const relays = c.fds.map((fd, i) => ring.relay(fd, fd, { mode: i === 1 ? 'splice' : 'copy', onEnd }));
    c.peers[0]!.end();
    const rs = await Promise.all(relays.map((r) => r.done));
    assert.is(rs[0]!.eof, true);
    assert.equal(rs.slice(1).map((r) => r.error?.code), ['ECANCELED', 'ECANCELED']);
    assert.is(ends.length, 3);
  });
});

test('a worker terminated while its relays run takes nothing down with it', async () => {
  const { Worker } = await import('node:worker_threads');
  const lib = JSON.stringify(require('node:path').join(__dirname, '..', 'lib'));
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.write(Buffer.alloc(1 << 20));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  for (let round = 0; round < 3; round++) {
    const w = new Worker(`
      const { parentPort } = require('node:worker_threads');
      const { Ring } = require(${lib} + '/ring');
      require(${lib} + '/ops-net');
      require(${lib} + '/ops-relay');
      const { native } = require(${lib} + '/native');
      const K = native.socketConstants;
      const ring = new Ring();
      (async () => {
        for (let i = 0; i < 8; i++) {
          const fd = await ring.socket(K.AF_INET, K.SOCK_STREAM, 0);
          await ring.connect(fd, native.encodeSockaddr('127.0.0.1', ${port}));
          ring.relay(fd, fd, { mode: i % 2 ? 'splice' : 'copy' });
        }
        parentPort.postMessage('running');
      })();
    `, { eval: true });
    await once(w, 'message');
    await until(() => sockets.length === 8 * (round + 1), 10_000, 'the server to accept the worker\'s connections');
    await new Promise((r) => setTimeout(r, 20)); // relays busy echoing the server's megabyte
    await w.terminate();
  }
  // The workers' raw socket fds are theirs to close (a relay never closes them): end our sides.
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
  assert.is(sockets.length, 24, 'every worker connected its 8 relays before it was terminated');
});

test('bad arguments: clear errors, nothing started', async () => {
  const ring = new Ring();
  const file = fs.openSync(__filename, 'r');
  try {
    assert.throws(() => ring.relay(-1, 0), (e: Error) => e instanceof RangeError || e instanceof TypeError);
    assert.throws(() => ring.relay('3' as unknown as number, 0), /src/);
    const c = await connected(ring, 1);
    try {
      assert.throws(() => ring.relay(c.fds[0]!, c.fds[0]!, { pipeSize: 10 }), /pipeSize/);
      assert.throws(() => ring.relay(file, c.fds[0]!), (e: NodeJS.ErrnoException) => e.code === 'EINVAL' && e.syscall === 'relay');
      assert.throws(() => ring.relay(c.fds[0]!, 100_000), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
      assert.throws(() => ring.relay(c.fds[0]!, c.fds[0]!, { mode: 'zero' as RelayMode }), /options\.mode.*'splice', 'copy' or 'auto'/);
      assert.throws(() => ring.relay(c.fds[0]!, c.fds[0]!, { mode: 'toString' as RelayMode }), /options\.mode/);
      // The copy relays' buffer group id is not available to other groups.
      assert.throws(() => new BufferGroup(ring, RELAY_BGID, { count: 4, size: 4096 }), /reserved for the ring's copy relays/);
      const [pr, pw] = native.makePipe(4096);
      try {
        // A pipe is fine for splice, not for copy or auto mode (recv/send).
        for (const mode of ['copy', 'auto'] as const) {
          assert.throws(() => ring.relay(pr, c.fds[0]!, { mode }),
            (e: NodeJS.ErrnoException) => e.code === 'EINVAL' && e.message.includes(`stream sockets in mode '${mode}'`));
        }
      } finally {
        native.closeFd(pr);
        native.closeFd(pw);
      }
      assert.equal(ring.relayStats(), { live: 0, pipesInUse: 0, pipesIdle: 0, bufferWaits: 0, bufferTrims: 0, buffersHeld: 0 });
      // The ring is unharmed: a relay still works after the refusals.
      const r = ring.relay(c.fds[0]!, c.fds[0]!);
      c.peers[0]!.end('x');
      assert.is((await r.done).bytes, 1);
    } finally {
      await c.close();
    }
    ring.destroy();
    assert.throws(() => ring.relay(0, 1), /destroyed|closed/i);
  } finally {
    fs.closeSync(file);
    ring.destroy();
  }
});

test('a relay keeps the process alive while it runs, and lets it exit once done', async () => {
  // In a child: the only pending work is a relay waiting for a peer that ends after 200 ms.
  const { runNode, LIB } = await import('./helpers');
  const r = runNode(`
    const net = require('node:net');
    const { Ring } = require(${JSON.stringify(LIB)} + '/ring');
    require(${JSON.stringify(LIB)} + '/ops-net');
    require(${JSON.stringify(LIB)} + '/ops-relay');
    const { native } = require(${JSON.stringify(LIB)} + '/native');
    const K = native.socketConstants;
    const ring = new Ring();
    const server = net.createServer((s) => { server.close(); s.unref(); setTimeout(() => s.end('late'), 200).unref(); s.on('data', () => {}); });
    server.listen(0, '127.0.0.1', async () => {
      const fd = await ring.socket(K.AF_INET, K.SOCK_STREAM, 0);
      await ring.connect(fd, native.encodeSockaddr('127.0.0.1', server.address().port));
      ring.relay(fd, fd).done.then((res) => { process.stdout.write('done ' + res.bytes + ' ' + res.eof + '\\n'); native.closeFd(fd); });
    });
  `);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /done 4 true/, JSON.stringify([r.stdout, r.stderr, r.signal, r.error?.message]));
});

test.run();
