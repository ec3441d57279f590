/**
 * examples/echo-server as a user runs it, in each --mode: a child process on
 * a free port, byte-exact echo of small and large messages on several
 * connections.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Starts the example in `mode`; resolves with its port and the child. */
async function start(mode: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'echo-server.js'), '--port', '0', '--host',
    '127.0.0.1', '--mode', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
  });
  return { child, port };
}

function echo(port: number, data: Buffer): Promise<Buffer> {
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

for (const mode of ['copy', 'splice', 'recv']) {
  test(`--mode ${mode}: echoes a small message, then 8 MiB on each of 8 connections at once, byte for byte`, async () => {
    const { child, port } = await start(mode);
    try {
      const msg = Buffer.from('hello ring');
      assert.ok((await echo(port, msg)).equals(msg));
      const msgs = Array.from({ length: 8 }, () => crypto.randomBytes(8 << 20));
      const back = await Promise.all(msgs.map((m) => echo(port, m)));
      back.forEach((b, i) => assert.ok(b.equals(msgs[i]!), `connection ${i}`));
    } finally {
      child.kill();
    }
  });
}

test('an unknown --mode is refused with a message naming it', async () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', 'echo-server.js'), '--mode', 'fast'],
    { encoding: 'utf8' });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /--mode must be 'copy', 'splice' or 'recv', got 'fast'/);
});

test.run();
