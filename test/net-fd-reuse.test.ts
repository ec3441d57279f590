/**
 * A socket that is ended and destroyed at once must not hurt the next socket
 * that gets the same fd number. IORING_OP_SHUTDOWN runs in an io-wq worker
 * and looks the fd number up only there; before the facade waited for it,
 * a close that ran first let a new connection reuse the number and receive
 * the late shutdown (a stray end of stream or EPIPE on an innocent socket).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeNet from 'node:net';
import * as net from '../lib/net';
import { once } from './net-helpers';

test('end() + destroy() then a new connection on the reused fd: the new one is unharmed', async () => {
  const srv = nodeNet.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(d)); // echo
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as nodeNet.AddressInfo).port;
  let reused = 0;
  try {
    for (let i = 0; i < 150; i++) {
      const a = net.connect(port, '127.0.0.1');
      await once(a, 'connect');
      const fdA = a.fd;
      a.on('error', () => undefined);
      // end() submits a shutdown(SHUT_WR) once the write is out; destroy() right after closes.
      await new Promise<void>((resolve) => a.write('x', () => resolve()));
      a.end();
      setImmediate(() => a.destroy());
      await once(a, 'close');
      const b = net.connect(port, '127.0.0.1');
      await once(b, 'connect');
      if (b.fd === fdA) reused++;
      const errors: Error[] = [];
      b.on('error', (e) => errors.push(e));
      let ended = false;
      b.on('end', () => (ended = true));
      const msg = Buffer.alloc(2000, i & 0xff);
      b.write(msg);
      let got = 0;
      await new Promise<void>((resolve, reject) => {
        b.on('data', (d: Buffer) => {
          got += d.length;
          if (got >= msg.length) resolve();
        });
        b.on('close', () => reject(new Error(`connection ${i} closed early: ended=${ended} errors=${errors.map((e) => e.message)}`)));
      });
      assert.is(got, msg.length);
      assert.equal(errors, []);
      assert.is(ended, false, `round ${i}: the new socket saw a stray end of stream`);
      b.destroy();
      await once(b, 'close');
    }
  } finally {
    await new Promise((r) => srv.close(r));
  }
  assert.ok(reused > 100, `the fd number was reused in ${reused} of 150 rounds (the case under test)`);
});

test.run();
