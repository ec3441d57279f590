/**
 * HTTP static-file servers under wrk (issue 5): this runtime's file server
 * vs nginx (sendfile) vs node:http + fs.createReadStream, a 4 KiB and a 1 MiB
 * file, then both servers with 2 workers each.
 *
 *   npm run bench:http [-- SECONDS [CONNECTIONS [ROUNDS [SNDBUF]]]]     (defaults: 5 s, 32 connections, 1 round)
 *     with ROUNDS > 1 the 1-worker contenders run once per round, in turn,
 *     and a summary gives the median of the per-round ratios: this machine's
 *     1 MiB figures swing by 2x and more between runs of the same server;
 *     SNDBUF (bytes) adds both servers with that SO_SNDBUF on their
 *     connections (this file server's --sndbuf, nginx's listen sndbuf=)
 *   flock -x /tmp/bench.lock npm run bench:http
 *   BENCH_CC=cubic ... runs it under that congestion control (servers/tcp-env.ts)
 *
 * Needs wrk and nginx (installed with apt-get when missing). Ports 18100-18199.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeNginxConf } from './servers/configs';
import { ensureTools, formatRow, makeFiles, measure, printMedians, startServer, type Row, type Server } from './servers/run';
import { describeTcp, rerunUnderCongestionControl } from './servers/tcp-env';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 32);
const rounds = Math.max(1, Number(process.argv[4] ?? 1));
/** Also run both servers with this SO_SNDBUF (bytes; 0: not). */
const sndbuf = Number(process.argv[5] ?? 0);
const files: Array<[string, number]> = [
  ['4k', 4096],
  ['1m', 1024 * 1024],
];
const fileServer = path.join(__dirname, '..', 'examples', 'file-server.js');
const baseline = path.join(__dirname, 'http-baseline.js');

interface Contender {
  label: string;
  start(port: number): Promise<Server>;
}

async function main(): Promise<void> {
  ensureTools([
    ['wrk', 'wrk'],
    ['nginx', 'nginx'],
  ]);
  await rerunUnderCongestionControl(); // BENCH_CC: this bench again in a network namespace, then exit
  const root = makeFiles('bench-http-root-', files);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-http-conf-'));
  // SNDBUF: both servers once more with this SO_SNDBUF on their connections (see RESULTS, session 9).
  const ours = (workers: number, buf?: number): Contender => ({
    label: `uring file-server --workers ${workers}${buf ? ' sndbuf' : ''}`,
    start: (p) =>
      startServer(process.execPath, [fileServer, '--root', root, '--port', String(p), '--workers', String(workers), '--quiet',
        ...(buf ? ['--sndbuf', String(buf)] : [])], p, /\n/),
  });
  const nginx = (workers: number, buf?: number): Contender => ({
    label: `nginx worker_processes ${workers}${buf ? ' sndbuf' : ''}`,
    start: (p) => startServer('nginx', ['-c', writeNginxConf(tmp, root, p, workers, buf), '-p', tmp], p),
  });
  const node: Contender = {
    label: 'node:http + createReadStream',
    start: (p) => startServer(process.execPath, [baseline, root, String(p)], p, /\n/),
  };
  console.log(
    `bench:http  wrk -t1 -c${connections} -d${seconds}s (1 s warm-up first), keep-alive; ${os.cpus().length} cores, ` +
      `node ${process.version}, ${os.release()}, ${describeTcp()}`,
  );
  console.log('GB/s = requests/s x file size / 1e9; CPU/req = server process tree user+sys time / requests\n');
  let port = 18100;
  const run = async (set: Contender[]): Promise<Record<string, Row[]>> => {
    const out: Record<string, Row[]> = {};
    for (const c of set) {
      const p = port++;
      const s = await c.start(p);
      try {
        if (s.line) console.log(`  [${c.label}] ${s.line.trim()}`);
        out[c.label] = files.map(([name, size]) =>
          measure(c.label, [s.child.pid!], `http://127.0.0.1:${p}/${name}`, name, size, seconds, connections),
        );
      } finally {
        await s.stop();
      }
    }
    return out;
  };
  try {
    const perRound: Array<Record<string, Row[]>> = [];
    for (let round = 0; round < rounds; round++) {
      const one = await run([ours(1), nginx(1), node, ...(sndbuf > 0 ? [ours(1, sndbuf), nginx(1, sndbuf)] : [])]);
      perRound.push(one);
      console.log(`\n1 worker each${rounds > 1 ? ` (round ${round + 1} of ${rounds})` : ''}:`);
      for (const label of Object.keys(one)) {
        one[label]!.forEach((r, i) =>
          console.log(formatRow(r, [['nginx', one[nginx(1).label]![i]], ['node:http', one[node.label]![i]]])),
        );
      }
    }
    if (rounds > 1) {
      console.log('');
      printMedians(perRound, files, [['nginx', nginx(1).label], ['node:http', node.label]]);
    }
    const two = await run([ours(2), nginx(2)]);
    console.log('\nAll cores (2 workers each; wrk shares the same 2 cores):');
    for (const label of Object.keys(two)) {
      two[label]!.forEach((r, i) => console.log(formatRow(r, [['nginx w2', two[nginx(2).label]![i]]])));
    }
    console.log('\ntargets: 4k >= 0.80x nginx and >= 4x node:http; 1m >= 1.00x nginx');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1); // the exit hook kills every server still running
});
