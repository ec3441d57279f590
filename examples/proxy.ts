/**
 * TCP proxy example: `node dist/examples/proxy.js --listen 127.0.0.1:9000 --upstream 127.0.0.1:8080`
 * (or `--upstream unix:/run/app.sock`).
 * Bytes move with splice through pooled pipes and never enter user space
 * (`--pump relay`, the default: splices in the addon on ring readiness; see
 * examples/proxy/cli.ts for the other pumps).
 * With `--workers N` each worker_thread runs its own ring and listener on
 * the same port (SO_REUSEPORT), so the kernel spreads connections over them;
 * a worker that dies is logged and replaced (examples/workers.ts).
 */
import { isMainThread, Worker, workerData, parentPort } from 'node:worker_threads';
import { createProxy } from './proxy/proxy';
import { parseProxyArgs, PROXY_USAGE, type ProxyCli } from './proxy/cli';
import { startWorker, supervise } from './workers';

/** The upstream as the log shows it. */
function upstreamName(cli: ProxyCli): string {
  return cli.upstreamPath !== undefined ? `unix:${cli.upstreamPath}` : `${cli.upstreamHost!}:${cli.upstreamPort!}`;
}

async function serve(cli: ProxyCli, reusePort: boolean, tag: string): Promise<void> {
  const log = cli.quiet ? undefined : (m: string): void => console.log(`${tag}${m}`);
  const proxy = await createProxy({ listenHost: cli.listenHost, listenPort: cli.listenPort,
    ...(cli.upstreamPath !== undefined ? { upstreamPath: cli.upstreamPath }
      : { upstreamHost: cli.upstreamHost, upstreamPort: cli.upstreamPort }),
    idleTimeoutMs: cli.idleTimeoutMs,
    maxConnections: cli.maxConnections, pump: cli.pump, reusePort, log });
  const a = proxy.address();
  if (parentPort) parentPort.postMessage({ port: a.port });
  else console.log(`proxy listening on ${a.address}:${a.port} -> ${upstreamName(cli)}`);
  const stop = (): void => void proxy.close().then(() => process.exit(0));
  if (!parentPort) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
}

async function main(): Promise<void> {
  if (!isMainThread) {
    const { cli, index } = workerData as { cli: ProxyCli; index: number };
    await serve(cli, true, `[worker ${index}] `);
    return;
  }
  let cli: ProxyCli;
  try {
    cli = parseProxyArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`proxy: ${(e as Error).message}\n${PROXY_USAGE}`);
    process.exit(2);
  }
  if (cli.workers === 1) return serve(cli, false, '');
  // The first worker binds (port 0 becomes a real port); the others join it. A worker that dies is replaced.
  let port = cli.listenPort;
  for (let i = 0; i < cli.workers; i++) {
    const data = { cli: { ...cli, listenPort: port }, index: i };
    const spawn = (): Worker => new Worker(__filename, { workerData: data });
    const label = `worker ${i}`;
    const { worker, ready } = await startWorker<{ port: number }>(spawn, label);
    port = ready.port;
    data.cli.listenPort = port; // a replacement joins the port the first one got
    supervise(worker, { spawn, label, log: (m) => console.error(`proxy: ${m}`) });
  }
  console.log(`proxy listening on ${cli.listenHost}:${port} -> ${upstreamName(cli)} (${cli.workers} workers)`);
}

main().catch((e: Error) => {
  console.error(`proxy: ${e.message}`);
  process.exit(1);
});
