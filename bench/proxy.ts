/**
 * TCP proxies under wrk (issue 5): wrk -> proxy -> nginx, nginx serving a
 * 4 KiB and a 1 MiB file. This runtime's proxy (splice through pooled pipes,
 * 1 worker) vs HAProxy (mode tcp, splice-auto, nbthread 1) vs a node:net
 * pipe proxy. wrk, the proxy and nginx share the 2 cores. A last section
 * shows the scaling: the first pump with one worker per core against HAProxy
 * with one thread per core, in front of an nginx with one worker per core.
 *
 *   npm run bench:proxy [-- SECONDS [CONNECTIONS [PUMPS [ROUNDS]]]]
 *     (defaults: 5 s, 32 connections, PUMPS relay,auto,ready,io-wq,copy: the
 *     proxy's pumps to run, comma-separated, the first one before HAProxy;
 *     PUMP@DIR runs the build in checkout DIR instead of this one, for an
 *     A/B of two builds in one run;
 *     ROUNDS 1: with more, every contender runs once per round, in turn, and
 *     a summary gives the median of the per-round ratios: on a shared,
 *     noisy machine a ratio taken within one round is the robust figure)
 *   flock -x /tmp/bench.lock npm run bench:proxy
 *   BENCH_CC=cubic ... runs it under that congestion control (servers/tcp-env.ts)
 *
 * Needs wrk, nginx and haproxy (installed with apt-get when missing). Ports 18200-18299.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeHaproxyConf, writeNginxConf } from './servers/configs';
import { ensureTools, formatRow, makeFiles, measure, printMedians, startServer, type Row, type Server } from './servers/run';
import { describeTcp, rerunUnderCongestionControl } from './servers/tcp-env';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 32);
const pumps = (process.argv[4] ?? 'relay,auto,ready,io-wq,copy').split(',').filter(Boolean);
const rounds = Math.max(1, Number(process.argv[5] ?? 1));

const files: Array<[string, number]> = [
  ['4k', 4096],
  ['1m', 1024 * 1024],
];
const proxyEntry = path.join(__dirname, '..', 'examples', 'proxy.js');
const pipeProxy = path.join(__dirname, '..', '..', 'bench', 'node-pipe-proxy.js');

interface Contender {
  label: string;
  start(port: number, upstream: number): Promise<Server>;
}

async function main(): Promise<void> {
  ensureTools([
    ['wrk', 'wrk'],
    ['nginx', 'nginx'],
    ['haproxy', 'haproxy'],
  ]);
  await rerunUnderCongestionControl(); // BENCH_CC: this bench again in a network namespace, then exit
  const root = makeFiles('bench-proxy-root-', files);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-proxy-conf-'));
  // 'relay@/other/checkout' runs that checkout's build of the proxy: an A/B of two builds in one run.
  const uring = (spec: string, workers = 1): Contender => {
    const [pump, checkout] = spec.split('@') as [string, string | undefined];
    const entry = checkout ? path.join(checkout, 'dist', 'examples', 'proxy.js') : proxyEntry;
    return {
      label: `uring proxy --pump ${pump}${workers > 1 ? ` -w${workers}` : ''}${checkout ? ` (${path.basename(checkout)})` : ''}`,
      start: (p, u) =>
        startServer(
          process.execPath,
          [entry, '--listen', `127.0.0.1:${p}`, '--upstream', `127.0.0.1:${u}`, '--workers', String(workers), '--pump', pump, '--quiet'],
          p,
          /\n/,
        ),
    };
  };
  const haproxyWith = (threads: number): Contender => ({
    label: `haproxy tcp splice-auto nbthread ${threads}`,
    start: (p, u) => startServer('haproxy', ['-db', '-f', writeHaproxyConf(tmp, p, u, threads)], p),
  });
  const haproxy = haproxyWith(1);
  const nodePipe: Contender = {
    label: 'node:net pipe proxy', start: (p, u) => startServer(process.execPath, [pipeProxy, String(p), String(u)], p, /\n/),
  };
  // The first pump right before HAProxy and the second right after it: the rows to compare sit closest in time.
  const [first, second, ...rest] = pumps.map((spec) => uring(spec));
  const contenders: Contender[] = [first, haproxy, second, nodePipe, ...rest].filter((c): c is Contender => c !== undefined);
  console.log(
    `bench:proxy  wrk -t1 -c${connections} -d${seconds}s (1 s warm-up first) -> proxy -> nginx (worker_processes 1, sendfile); ` +
      `${os.cpus().length} cores, node ${process.version}, ${os.release()}, ${describeTcp()}`,
  );
  console.log('GB/s = requests/s x file size / 1e9; CPU/req = proxy process user+sys time / requests (nginx not counted)\n');
  const upstreamPort = 18200;
  const nginx = await startServer('nginx', ['-c', writeNginxConf(tmp, root, upstreamPort, 1), '-p', tmp], upstreamPort);
  const perRound: Array<Record<string, Row[]>> = [];
  const failed: string[] = [];
  let port = upstreamPort + 1;
  let nginxAll: Server | undefined;
  /** Measures each contender (wrk -> it -> nginx on `upstream`), then nginx alone, into `rows`. */
  const runAll = async (list: Contender[], upstreamServer: Server, upstream: number, rows: Record<string, Row[]>): Promise<void> => {
    for (const c of list) {
      const p = port++;
      const s = await c.start(p, upstream);
      try {
        if (s.line) console.log(`  [${c.label}] ${s.line.trim()}`);
        const measured: Row[] = [];
        for (const [name, size] of files) {
          try {
            measured.push(measure(c.label, [s.child.pid!], `http://127.0.0.1:${p}/${name}`, name, size, seconds, connections));
          } catch (e) {
            // A run with socket errors or timeouts is reported, not averaged in, and the bench goes on.
            const why = /Socket errors:[^\n]*|Requests\/sec:[^\n]*/g;
            const note = `${c.label} ${name}: run failed (${((e as Error).message.match(why) ?? []).join('; ')})`;
            console.log(`  ${note}`);
            failed.push(note);
          }
        }
        if (measured.length === files.length) rows[c.label] = measured;
      } finally {
        await s.stop();
      }
    }
    // nginx alone, for reference: what the upstream does without a proxy in the path.
    const direct = 'nginx direct (no proxy)';
    rows[direct] = files.map(([name, size]) =>
      measure(direct, [upstreamServer.child.pid!], `http://127.0.0.1:${upstream}/${name}`, name, size, seconds, connections),
    );
    console.log('');
  };
  try {
    for (let round = 0; round < rounds; round++) {
      if (rounds > 1) console.log(`round ${round + 1} of ${rounds}`);
      const rows: Record<string, Row[]> = {};
      perRound.push(rows);
      await runAll(contenders, nginx, upstreamPort, rows);
      const ha = rows[haproxy.label];
      const nd = rows[nodePipe.label];
      for (const label of Object.keys(rows)) {
        rows[label]!.forEach((r, i) => console.log(formatRow(r, [['haproxy', ha?.[i]], ['node pipe', nd?.[i]]])));
      }
      console.log('');
    }
    if (rounds > 1) printMedians(perRound, files, [['haproxy', haproxy.label]]);
    // All cores: the first pump with one worker per core against HAProxy with one thread per core,
    // both in front of an nginx with one worker per core (wrk shares the same cores).
    const cores = os.cpus().length;
    if (cores > 1) {
      const allPort = port++;
      nginxAll = await startServer('nginx', ['-c', writeNginxConf(tmp, root, allPort, cores), '-p', tmp], allPort);
      const oursAll = uring(pumps[0] ?? 'relay', cores);
      const haAll = haproxyWith(cores);
      const all: Record<string, Row[]> = {};
      await runAll([oursAll, haAll], nginxAll, allPort, all);
      // Scaling: each row against its own one-worker (one-thread) row of the last round.
      const one = perRound[perRound.length - 1]!;
      const single: Record<string, string | undefined> = { [oursAll.label]: first?.label, [haAll.label]: haproxy.label };
      console.log(`All cores (${cores} workers / threads each, nginx worker_processes ${cores}; wrk shares the same cores):`);
      for (const label of Object.keys(all)) {
        const base = single[label];
        all[label]!.forEach((r, i) =>
          console.log(formatRow(r, [[`haproxy w${cores}`, all[haAll.label]?.[i]], ['1 worker', base ? one[base]?.[i] : undefined]])),
        );
      }
    }
    for (const note of failed) console.log(note);
    console.log('\ntarget: uring proxy (default pump: relay) >= 1.00x haproxy at both sizes; both run with --workers 1');
  } finally {
    await nginxAll?.stop();
    await nginx.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1); // the exit hook kills every server still running
});
