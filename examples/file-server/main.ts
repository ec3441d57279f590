/**
 * Process entry: parse the command line, then serve in this thread or in N
 * worker threads (each with its own ring) listening on the same port.
 */
import * as path from 'node:path';
import { Worker, isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { parseArgs, USAGE, type CliOptions } from './cli';
import { createFileServer } from './server';
import { loadTransport, nodeTransport } from './transport';
import { loadFileSystem } from './file-io';
import { startWorker, supervise } from '../workers';

/** Message a worker posts to the main thread once it listens. */
type WorkerMessage = { listening: string; port: number };

async function serve(o: CliOptions, reusePort: boolean): Promise<{ url: string; port: number }> {
  const transport = o.forceNode ? nodeTransport : loadTransport();
  const who = isMainThread ? '' : `[worker ${threadId}] `;
  const server = createFileServer({
    root: o.root,
    port: o.port,
    host: o.host,
    reusePort,
    headerTimeoutMs: o.headerTimeoutMs,
    maxConnections: o.maxConnections,
    transport,
    zeroCopy: o.zeroCopy,
    zeroCopyMinBytes: o.zeroCopyMinBytes,
    sndbuf: o.sndbuf,
    fileSystem: loadFileSystem(o.forceNode ? 'node' : 'auto'),
    log: o.quiet
      ? undefined
      : (e) => process.stdout.write(`${who}${e.remoteAddress ?? '-'} "${e.method} ${e.target}" ${e.status} ${e.bytes}\n`),
  });
  const a = await server.listen();
  const stop = (): void => void server.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const zc = server.zeroCopy ? ', zero-copy' : '';
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/ (net: ${server.transport.name}, fs: ${server.fileSystem.name}${zc})`;
  return { url, port: a.port };
}

/** Starts a worker serving `o`; rejects with the worker's own error when it could not listen. */
async function startServingWorker(o: CliOptions): Promise<{ worker: Worker; url: string; port: number }> {
  const { worker, ready } = await startWorker<WorkerMessage>(() => new Worker(__filename, { workerData: o }), 'worker');
  return { worker, url: ready.listening, port: ready.port };
}

/**
 * N workers on one port. With `--port 0` the first worker picks the port and
 * the others join it. A worker that dies is logged and replaced (examples/workers.ts).
 */
async function startWorkers(o: CliOptions): Promise<void> {
  const first = await startServingWorker(o);
  const rest = { ...o, port: first.port };
  const spawn = (): Worker => new Worker(__filename, { workerData: rest });
  // Each is supervised as soon as it listens (a crash while the others start is then a restart too).
  supervise(first.worker, { spawn, label: 'worker 0' });
  await Promise.all(Array.from({ length: o.workers - 1 }, (_, i) =>
    startServingWorker(rest).then(({ worker }) => supervise(worker, { spawn, label: `worker ${i + 1}` }))));
  process.stdout.write(`serving ${o.root} on ${first.url} with ${o.workers} workers\n`);
}

/** Run the CLI with `argv` (without node and script). */
export async function main(argv: readonly string[]): Promise<void> {
  const defaultRoot = path.resolve(__dirname, '..', '..', '..'); // dist/examples/file-server -> repo
  let o: CliOptions | 'help';
  try {
    o = parseArgs(argv, defaultRoot);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  if (o === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const transport = o.forceNode ? nodeTransport : loadTransport();
  if (o.workers > 1 && !transport.reusePort) {
    process.stderr.write(
      `notice: --workers ${o.workers} needs SO_REUSEPORT, which node:net (Node ${process.versions.node}) lacks; ` +
        'serving with 1 worker\n',
    );
    o.workers = 1;
  }
  if (o.workers === 1) {
    const { url } = await serve(o, false);
    process.stdout.write(`serving ${o.root} on ${url}\n`);
    return;
  }
  await startWorkers(o);
}

if (!isMainThread && parentPort && workerData) {
  const port = parentPort;
  // A worker that cannot serve fails (its 'error' reaches startWorker, which says so).
  serve(workerData as CliOptions, true).then(
    (r) => port.postMessage({ listening: r.url, port: r.port } satisfies WorkerMessage),
    (err: Error) => process.nextTick(() => { throw err; }),
  );
}
