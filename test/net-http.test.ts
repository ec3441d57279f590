import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as http from 'node:http';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as net from '../lib/net';
import { fdCount, once, testWithFallback } from './net-helpers';

const big = randomBytes(1024 * 1024 + 17);
let served = 0;
// http.Server tracks connections only when it listens itself: keep our own list.
const sockets = new Set<net.Socket>();

async function start(): Promise<[net.Server, http.Server, number]> {
  const h = http.createServer((req, res) => {
    served++;
    if (req.url === '/big') {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(big);
      return;
    }
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${req.method} ${req.url} ${body.length} ${body.slice(0, 5)}`);
    });
  });
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    h.emit('connection', socket);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return [srv, h, (srv.address() as net.AddressInfo).port];
}

async function stop(srv: net.Server, h: http.Server): Promise<void> {
  for (const s of sockets) s.destroy();
  h.close();
  await new Promise<void>((r) => srv.close(() => r()));
}

test('node:http serves requests from fetch over the facade (keep-alive, bodies both ways)', async () => {
  const before = fdCount();
  const [srv, h, port] = await start();
  const base = `http://127.0.0.1:${port}`;
  const r1 = await fetch(`${base}/hello`);
  assert.is(r1.status, 200);
  assert.is(await r1.text(), 'GET /hello 0 ');
  const payload = 'x'.repeat(200_000);
  const r2 = await fetch(`${base}/post`, { method: 'POST', body: payload });
  assert.is(await r2.text(), 'POST /post 200000 xxxxx');
  const r3 = await fetch(`${base}/big`);
  const body = Buffer.from(await r3.arrayBuffer());
  assert.is(body.length, big.length);
  assert.is(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  // Many requests in parallel.
  const texts = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${base}/p${i}`).then((r) => r.text())));
  texts.forEach((t, i) => assert.is(t, `GET /p${i} 0 `));
  await stop(srv, h);
  // undici may keep idle sockets of its own for a moment: only ours must be gone.
  assert.ok(fdCount() <= before + 60);
});

test('node:http serves curl over the facade', async () => {
  const [srv, h, port] = await start();
  const out = await new Promise<string>((resolve, reject) => {
    execFile('curl', ['-sS', '-i', '--data', 'hello-curl', `http://127.0.0.1:${port}/c`], (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
  assert.match(out, /^HTTP\/1\.1 200 OK/);
  assert.match(out, /POST \/c 10 hello$/);
  const sha = await new Promise<string>((resolve, reject) => {
    execFile('sh', ['-c', `curl -sS http://127.0.0.1:${port}/big | sha256sum`], (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.split(' ')[0]!);
    });
  });
  assert.is(sha, createHash('sha256').update(big).digest('hex'));
  assert.ok(served > 0);
  await stop(srv, h);
});

testWithFallback(test, 'net-http.test.js');

test.run();
