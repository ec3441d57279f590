/**
 * The examples' worker supervision (examples/workers.ts): a worker that
 * cannot start fails the process with its reason; a worker that dies later
 * is logged and replaced; one that keeps dying ends the process. And the two
 * CLIs with --workers 2 on a port already taken exit 1 instead of 0.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { startWorker, supervise } from '../examples/workers';

/** A worker that posts 'ready' and then, if `die` says so, throws `message` on the next turn. */
function worker(die: boolean, message = 'boom'): Worker {
  return new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    parentPort.postMessage('ready');
    if (workerData.die) setTimeout(() => { throw new Error(workerData.message); }, 20);
    else setInterval(() => {}, 1000);`, { eval: true, workerData: { die, message } });
}

test('startWorker resolves with the first message, rejects with why a worker ended before it', async () => {
  const ok = await startWorker<string>(() => worker(false), 'worker A');
  assert.is(ok.ready, 'ready');
  await ok.worker.terminate();
  const exited = await startWorker(() => new Worker('process.exit(3)', { eval: true }), 'worker B').catch((e: Error) => e.message);
  assert.is(exited, 'worker B exited (code 3) before it was listening');
  const threw = await startWorker(() => new Worker('throw new Error("no port")', { eval: true }), 'worker C')
    .catch((e: Error) => e.message);
  assert.is(threw, 'worker C failed before it was listening: no port');
});

test('supervise: a worker that dies is logged with its error and replaced; the process goes on', async () => {
  const logs: string[] = [];
  const exits: number[] = [];
  let spawned = 0;
  let replacement: Worker | undefined;
  let watch: { stop: () => void } | undefined;
  let replacedAgain: () => void = () => undefined;
  const replaced = new Promise<void>((resolve) => {
    const first = worker(true, 'first worker bug');
    watch = supervise(first, {
      label: 'worker 0',
      spawn: () => {
        spawned++;
        replacement = worker(false);
        const ready = spawned === 1 ? resolve : replacedAgain;
        replacement.once('message', () => setImmediate(ready));
        return replacement;
      },
      log: (m) => logs.push(m),
      exit: (c) => exits.push(c),
    });
  });
  await replaced;
  assert.is(spawned, 1);
  assert.equal(exits, []);
  assert.match(logs.join('\n'), /worker 0 died: Error: first worker bug\n\s+at /);
  assert.match(logs.join('\n'), /starting a new worker 0/);
  // Supervised: its death is logged and it is replaced again, by a worker that is watched once it is ready.
  const second = new Promise<void>((r) => { replacedAgain = r; });
  await replacement!.terminate();
  await second;
  assert.is(spawned, 2);
  assert.equal(exits, []);
  watch!.stop();
  await replacement!.terminate();
  await new Promise((r) => setTimeout(r, 100));
  assert.is(spawned, 2, 'stopped: not replaced');
  assert.equal(exits, [], 'stopped: no exit either');
});

test('supervise: a worker that keeps dying ends the process with code 1', async () => {
  const logs: string[] = [];
  const gaveUp = new Promise<number>((resolve) => {
    supervise(worker(true), { label: 'worker 1', spawn: () => worker(true), log: (m) => logs.push(m), maxRestarts: 2, exit: resolve });
  });
  assert.is(await gaveUp, 1);
  assert.match(logs[logs.length - 1]!, /worker 1 died 3 times within a minute: giving up/);
});

/** Runs an example's CLI against a port a node:net server already holds (no SO_REUSEPORT): bind fails. */
async function onTakenPort(args: (port: number) => string[]): Promise<{ status: number | null; stderr: string }> {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const r = spawnSync(process.execPath, args(port), { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, stderr: r.stderr };
  } finally {
    holder.close();
  }
}

test('the proxy with --workers 2 on a port in use exits 1 and says why (it exited 0 before)', async () => {
  const entry = path.join(__dirname, '..', 'examples', 'proxy.js');
  const r = await onTakenPort((p) => [entry, '--listen', `127.0.0.1:${p}`, '--upstream', '127.0.0.1:9', '--workers', '2']);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /worker 0 exited \(code 1\) before it was listening/);
  assert.match(r.stderr, /listen EADDRINUSE 127\.0\.0\.1:\d+/, 'the worker says which error');
});

test('the file server with --workers 2 on a port in use exits 1 and says why', async () => {
  const entry = path.join(__dirname, '..', 'examples', 'file-server.js');
  const r = await onTakenPort((p) => [entry, '--host', '127.0.0.1', '--port', String(p), '--workers', '2', '--quiet']);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /worker failed before it was listening: .*(EADDRINUSE|address already in use)/i);
});

test.run();
