import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as nodeNet from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import * as net from '../lib/net';
import { pipePool } from '../lib/pipes';
import { fdCount, once } from './net-helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-sendfile-'));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A node:net server collecting everything one connection sends. */
async function sink(): Promise<{ port: number; received: Promise<Buffer>; close(): Promise<void> }> {
  let resolve!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => (resolve = r));
  const srv = nodeNet.createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      resolve(Buffer.concat(chunks));
      s.end();
    });
    s.on('error', () => resolve(Buffer.concat(chunks)));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    port: (srv.address() as nodeNet.AddressInfo).port,
    received,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

async function client(port: number): Promise<net.Socket> {
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  return c;
}

test('sendFile sends the whole file byte for byte, headers first', async () => {
  const data = randomBytes(5 * 1024 * 1024 + 123); // several pipe rounds
  const file = path.join(dir, 'whole.bin');
  fs.writeFileSync(file, data);
  const s = await sink();
  const c = await client(s.port);
  const fh = await fs.promises.open(file, 'r');
  const head = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 5243003\r\n\r\n');
  const n = await net.sendFile(c, fh, { headers: head });
  assert.is(n, data.length);
  c.end();
  const got = await s.received;
  assert.is(got.length, head.length + data.length);
  assert.is(sha(got), sha(Buffer.concat([head, data])));
  await fh.close();
  await s.close();
});

test('sendFile sends a range [start, end] after earlier writes', async () => {
  const data = randomBytes(300_000);
  const file = path.join(dir, 'range.bin');
  fs.writeFileSync(file, data);
  const s = await sink();
  const c = await client(s.port);
  const fd = fs.openSync(file, 'r');
  c.write('before:');
  const n = await net.sendFile(c, fd, { start: 1000, end: 200_999 });
  assert.is(n, 200_000);
  c.end(':after');
  const got = await s.received;
  assert.is(sha(got), sha(Buffer.concat([Buffer.from('before:'), data.subarray(1000, 201_000), Buffer.from(':after')])));
  fs.closeSync(fd);
  await s.close();
});

test('a file truncated during the transfer ends with a short count and a clear error, no leak', async () => {
  const file = path.join(dir, 'trunc.bin');
  const size = 8 * 1024 * 1024;
  fs.writeFileSync(file, Buffer.alloc(size, 9));
  const pool = pipePool();
  const beforeFds = fdCount();
  const s = await sink();
  const c = await client(s.port);
  const fd = fs.openSync(file, 'r+');
  const inUse = pool.inUse;
  const p = net.sendFile(c, fd, { end: size - 1 });
  // Cut the file while the transfer runs.
  setImmediate(() => fs.ftruncateSync(fd, 1024 * 1024));
  const err = await p.then(() => null, (e: Error & { code: string; bytesSent: number }) => e);
  assert.ok(err !== null, 'expected an error');
  assert.is(err!.code, 'ERR_FILE_TRUNCATED');
  assert.match(err!.message, /truncated/);
  assert.ok(err!.bytesSent < size && err!.bytesSent >= 0);
  assert.is(pool.inUse, inUse, 'pipe returned to the pool');
  c.end();
  const got = await s.received;
  assert.is(got.length, err!.bytesSent, 'the count matches what the peer received');
  fs.closeSync(fd);
  await s.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(fdCount() <= beforeFds + pool.idle, 'no fd left beyond idle pooled pipes');
});

test('a peer that goes away is an EPIPE/ECONNRESET error and the pipe is not leaked', async () => {
  const file = path.join(dir, 'big.bin');
  fs.writeFileSync(file, Buffer.alloc(16 * 1024 * 1024, 1));
  const srv = nodeNet.createServer((s) => s.once('data', () => s.destroy()));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = await client((srv.address() as nodeNet.AddressInfo).port);
  c.on('error', () => undefined);
  const pool = pipePool();
  const inUse = pool.inUse;
  const fd = fs.openSync(file, 'r');
  const err = await net.sendFile(c, fd).then(() => null, (e: NodeJS.ErrnoException) => e);
  assert.ok(err !== null);
  assert.ok(err!.code === 'EPIPE' || err!.code === 'ECONNRESET', String(err!.code));
  assert.is(pool.inUse, inUse);
  fs.closeSync(fd);
  c.destroy();
  await new Promise<void>((r) => srv.close(() => r()));
});

test('bad arguments are TypeErrors', async () => {
  const e = await net.sendFile(0 as unknown as net.Socket, 'x' as unknown as number).catch((x: Error) => x);
  assert.instance(e, TypeError);
});

test.after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test.run();
