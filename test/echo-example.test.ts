/**
 * examples/echo-server as a user runs it: a child process on a free port,
 * byte-exact echo of small and large messages on several connections.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';

let child: ChildProcess;
let port = 0;

test.before(async () => {
  child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'echo-server.js'), '--port', '0', '--host',
    '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
  });
});
test.after(() => { child.kill(); });

function echo(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let n = 0;
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= data.length) c.end();
    });
    c.on('close', () => resolve(Buffer.concat(chunks)));
    c.on('error', reject);
    c.write(data);
  });
}

test('echoes a small message byte for byte', async () => {
  const msg = Buffer.from('hello ring');
  assert.ok((await echo(msg)).equals(msg));
});

test('echoes 8 MiB on each of 8 connections at once, byte for byte', async () => {
  const msgs = Array.from({ length: 8 }, () => crypto.randomBytes(8 << 20));
  const back = await Promise.all(msgs.map(echo));
  back.forEach((b, i) => assert.ok(b.equals(msgs[i]!), `connection ${i}`));
});

test.run();
