import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes, randomInt } from 'node:crypto';
import * as net from '../lib/net';
import { fdCount, once, testWithFallback } from './net-helpers';

const CONNS = 1000;

test('1,000 concurrent connections echo random-sized messages byte for byte', async () => {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  const before = fdCount(); // the facade's ring exists now (created with the first server)
  srv.listen({ port: 0, host: '127.0.0.1', backlog: 2048 });
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const t0 = Date.now();
  let peak = 0;
  let open = 0;
  const one = async (): Promise<void> => {
    // Mostly small messages, some up to 256 KiB (several provided buffers each).
    const size = randomInt(0, 10) === 0 ? randomInt(65536, 262144) : randomInt(1, 4096);
    const msg = randomBytes(size);
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    open++;
    peak = Math.max(peak, open);
    const chunks: Buffer[] = [];
    let got = 0;
    const done = new Promise<void>((resolve, reject) => {
      c.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (got >= size) c.end();
      });
      c.on('error', reject);
      c.on('close', () => resolve());
    });
    c.write(msg);
    await done;
    open--;
    const back = Buffer.concat(chunks);
    assert.is(back.length, size);
    assert.ok(back.equals(msg), 'echoed bytes differ');
  };
  await Promise.all(Array.from({ length: CONNS }, one));
  const ms = Date.now() - t0;
  assert.ok(peak > CONNS / 2, `only ${peak} connections were open at once`);
  assert.ok(ms < 30_000, `took ${ms} ms`);
  await new Promise<void>((r) => srv.close(() => r()));
  assert.is(fdCount(), before);
});

testWithFallback(test, 'net-echo.test.js');

test.run();
