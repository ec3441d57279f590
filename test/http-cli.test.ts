/**
 * The file server as a program: `node dist/examples/file-server.js ...`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { makeFixture, type Fixture } from './http-helpers';
import { loadTransport } from '../examples/file-server/transport';

const entry = path.join(__dirname, '..', 'examples', 'file-server.js');

let fx: Fixture;
test.before(() => {
  fx = makeFixture();
});
test.after(() => fx.cleanup());

/** Start the CLI; resolve with the URL it prints and everything on stderr so far. */
function launch(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string; stdout: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`no URL printed; stdout: ${out} stderr: ${err}`));
    }, 10_000);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /on (http:\/\/\S+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stderr: () => err, stdout: () => out });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}; stderr: ${err}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

test('serves --root on --host/--port, logs requests, stops on SIGTERM', async () => {
  const { child, url, stdout } = await launch(['--root', fx.root, '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--node']);
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(url + 'hello.txt');
    assert.is(await res.text(), 'hello world\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.match(stdout(), /"GET \/hello.txt" 200 12/);
  } finally {
    await stop(child);
  }
  assert.is(child.exitCode, 0, 'SIGTERM closes the server and the process exits cleanly');
});

test('--workers N with node:net falls back to one worker with a notice', async () => {
  const { child, url, stderr } = await launch(['--root', fx.root, '--port', '0', '--workers', '3', '--node', '--quiet']);
  try {
    assert.match(stderr(), /notice: --workers 3 needs SO_REUSEPORT.*serving with 1 worker/);
    assert.is((await fetch(url + 'style.css')).status, 200);
  } finally {
    await stop(child);
  }
});

const ringTransport = loadTransport();
const ringTest = ringTransport.reusePort ? test : test.skip;
if (!ringTransport.reusePort) {
  process.stderr.write('\n!!!!! http-cli: lib/net (the ring transport) is not built: --workers test SKIPPED !!!!!\n\n');
}

ringTest('--workers 2 on the ring transport: two workers share the port (SO_REUSEPORT)', async () => {
  const { child, url, stdout } = await launch(['--root', fx.root, '--port', '0', '--workers', '2']);
  try {
    assert.match(stdout(), /with 2 workers/);
    const port = new URL(url).port;
    // Port 0 would give each worker its own port: the main thread picks one first.
    assert.ok(Number(port) > 0);
    for (let i = 0; i < 24; i++) {
      const res = await fetch(url + 'hello.txt', { headers: { connection: 'close' } });
      assert.is(await res.text(), 'hello world\n');
    }
    await new Promise((r) => setTimeout(r, 100));
    const workers = new Set([...stdout().matchAll(/\[worker (\d+)\] .*"GET \/hello.txt" 200/g)].map((m) => m[1]));
    assert.is(workers.size, 2, `requests reached both workers (${[...workers].join(', ')})`);
  } finally {
    await stop(child);
  }
});

test('bad options exit with status 2 and name the option', async () => {
  const child = spawn(process.execPath, [entry, '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.on('exit', r));
  assert.is(code, 2);
  assert.match(err, /--port must be an integer/);
});

test.run();
