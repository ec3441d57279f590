/**
 * Raw TCP pairs and helpers for the urgent-data tests (relay.test.ts, proxy-urgent.test.ts, proxy.test.ts): sockets made with raw
 * fds on the ring, no node:net, so a test controls every call, send(2) with MSG_OOB included.
 */
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import { native } from '../lib/native';

const K = native.socketConstants;

/**
 * Runs `fn` with a new ring and two connected TCP pairs made with raw fds: `c` -> `s` is the source of the
 * code under test, `out` -> `sink` its destination. Closes every fd and destroys the ring afterwards.
 */
export async function withRawPairs(fn: (ring: Ring, p: { c: number; s: number; out: number; sink: number }) => Promise<void>): Promise<void> {
  const ring = new Ring();
  const lfd = native.socketSync(K.AF_INET!, K.SOCK_STREAM!, 0);
  const fds: number[] = [];
  try {
    native.bind(lfd, native.encodeSockaddr('127.0.0.1', 0)!);
    native.listen(lfd, 8);
    const addr = native.encodeSockaddr('127.0.0.1', native.getsockname(lfd).port)!;
    for (let i = 0; i < 2; i++) {
      const acc = ring.accept(lfd);
      const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!, 0);
      fds.push(fd);
      await ring.connect(fd, addr);
      fds.push(await acc);
    }
    await fn(ring, { c: fds[0]!, s: fds[1]!, out: fds[2]!, sink: fds[3]! });
  } finally {
    for (const fd of fds) native.closeFd(fd);
    native.closeFd(lfd);
    ring.destroy();
  }
}

/** Reads `fd` on the ring until `want` bytes came or the stream ended; the bytes as latin1. */
export async function recvText(ring: Ring, fd: number, want: number): Promise<string> {
  const buf = Buffer.alloc(want);
  let n = 0;
  while (n < want) {
    const got = await ring.recv(fd, buf.subarray(n));
    if (got === 0) break;
    n += got;
  }
  return buf.toString('latin1', 0, n);
}

/** Sends `text` on `fd` now (send(2), non-blocking), with MSG_OOB when `urgent`: its last byte is then urgent data. */
export function sendText(fd: number, text: string, urgent = false): void {
  const b = Buffer.from(text, 'latin1');
  const n = native.sendNow(fd, b, 0, b.length, urgent ? K.MSG_OOB! : 0);
  if (n !== b.length) throw new Error(`send(2) of ${b.length} bytes returned ${n}`);
}

/** How many times the ring entered the kernel while `ms` passed (an idle relay or pump makes a handful at most). */
export async function ringEntersDuring(ring: Ring, ms: number): Promise<number> {
  const before = ring.info().enters;
  await new Promise((r) => setTimeout(r, ms));
  return ring.info().enters - before;
}
