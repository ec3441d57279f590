/**
 * Where a proxied request's cost goes (issue 5, the 4 KiB proxy row): for
 * each proxy, one wrk run through it to nginx while the whole machine is
 * counted, then (with --strace) a second run under `strace -c` for the
 * proxy's system calls per request. Not a throughput contest (bench:proxy
 * is): it shows what each request costs the proxy, nginx and wrk, how much
 * CPU sat idle, and how many TCP segments and context switches a request
 * took, side by side for this proxy's pumps and HAProxy.
 *
 *   node dist/bench/proxy-anatomy.js [--pumps relay,auto,copy] [--file 4k|1m]
 *     [--seconds 4] [--connections 32] [--strace]
 *   flock -x /tmp/bench.lock node dist/bench/proxy-anatomy.js --strace
 *
 * Needs wrk, nginx, haproxy (and strace for --strace): apt-get install -y
 * wrk nginx haproxy strace (done here when missing). Ports 18600-18699.
 * Counters are machine-wide (/proc/stat, /proc/net/snmp): run it on an
 * otherwise idle machine.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeHaproxyConf, writeNginxConf } from './servers/configs';
import { cpuSeconds, ensureTools, makeFiles, parseWrk, startServer, wrk, wrkArgs, type Server } from './servers/run';
import { numArg, parseArgs } from './util';

const args = parseArgs();
const pumps = (args.get('pumps') ?? 'relay,auto,copy').split(',').filter(Boolean);
const fileName = args.get('file') ?? '4k';
const fileSize = fileName === '1m' ? 1024 * 1024 : 4096;
const seconds = numArg(args, 'seconds', 4);
const connections = numArg(args, 'connections', 32);
const withStrace = args.has('strace');

/** Machine-wide counters: CPU ticks (all, idle), context switches, TCP segments sent. */
function machine(): { ticks: number; idle: number; ctxt: number; segs: number } {
  const stat = fs.readFileSync('/proc/stat', 'utf8');
  const cpu = stat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const snmp = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
  const segs = Number(snmp[1]!.split(/\s+/)[snmp[0]!.split(/\s+/).indexOf('OutSegs')]);
  return {
    ticks: cpu.slice(0, 8).reduce((a, b) => a + b, 0),
    idle: cpu[3]! + cpu[4]!,
    ctxt: Number(/^ctxt (\d+)/m.exec(stat)![1]),
    segs,
  };
}

/** A wrk run (async, so its own CPU time can be read) counted against the machine's counters. */
async function counted(url: string, proxy: number, nginx: number): Promise<string[]> {
  wrk(url, 1, connections, fileSize); // warm-up
  const m0 = machine();
  const p0 = cpuSeconds(proxy);
  const n0 = cpuSeconds(nginx);
  const args = wrkArgs(url, seconds, connections);
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let wrkCpu = 0;
  const sampler = setInterval(() => { wrkCpu = Math.max(wrkCpu, cpuSeconds(child.pid!)); }, 100);
  await new Promise((r) => child.once('exit', r));
  clearInterval(sampler);
  const m1 = machine();
  // Checked as bench:proxy checks: answers of the right size only (a proxy answering fast with errors must not count).
  const { rps, requests } = parseWrk(out, `wrk ${args.join(' ')}`, fileSize);
  const us = (s: number): string => ((s / requests) * 1e6).toFixed(1);
  return [
    rps.toFixed(0),
    us(cpuSeconds(proxy) - p0),
    us(cpuSeconds(nginx) - n0),
    `${us(wrkCpu)}+`,
    `${(((m1.idle - m0.idle) / (m1.ticks - m0.ticks)) * 100).toFixed(0)}%`,
    ((m1.ctxt - m0.ctxt) / requests).toFixed(2),
    ((m1.segs - m0.segs) / requests).toFixed(2),
  ];
}

/** The proxy's system calls per request during a 2 s wrk run under `strace -c -f` (throughput there is meaningless). */
async function syscalls(url: string, proxy: number): Promise<string> {
  const outFile = path.join(os.tmpdir(), `proxy-anatomy-strace-${process.pid}.txt`);
  const st = spawn('strace', ['-c', '-f', '-p', String(proxy), '-o', outFile], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const r = wrk(url, 2, connections, fileSize);
  st.kill('SIGINT');
  await new Promise((res) => st.once('exit', res));
  const rows = fs.readFileSync(outFile, 'utf8').split('\n').filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l));
  fs.rmSync(outFile, { force: true });
  return rows
    .map((l) => l.trim().split(/\s+/))
    .map((f) => ({ calls: Number(f[3]), errors: f.length > 5 ? Number(f[4]) : 0, name: f[f.length - 1]! }))
    .filter((c) => c.calls / r.requests >= 0.01)
    .map((c) => `${c.name} ${(c.calls / r.requests).toFixed(2)}${c.errors ? ` (${(c.errors / r.requests).toFixed(2)} failed)` : ''}`)
    .join(', ') + ` (${r.requests} requests)`;
}

async function main(): Promise<void> {
  ensureTools([['wrk', 'wrk'], ['nginx', 'nginx'], ['haproxy', 'haproxy'], ...(withStrace ? [['strace', 'strace'] as [string, string]] : [])]);
  const root = makeFiles('proxy-anatomy-root-', [[fileName, fileSize]]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-anatomy-conf-'));
  const upstream = 18600;
  const entry = path.join(__dirname, '..', 'examples', 'proxy.js');
  const nginx = await startServer('nginx', ['-c', writeNginxConf(tmp, root, upstream, 1), '-p', tmp], upstream);
  console.log(`proxy-anatomy: wrk -t1 -c${connections} -d${seconds}s -> proxy -> nginx (1 worker), ${fileName}; ` +
    `${os.cpus().length} cores, ${os.release()}`);
  console.log('CPU columns: microseconds of CPU per request (user+sys) of each process; wrk\'s is sampled every 100 ms, ' +
    'so a lower bound (+). idle, context switches and TCP segments are machine-wide. strace sees system calls only: ' +
    'operations done through the ring (the copy pump\'s recv and send) do not show.\n');
  const header = ['proxy', 'req/s', 'proxy us', 'nginx us', 'wrk us', 'idle', 'ctxsw/req', 'segs/req'];
  const rows: string[][] = [header];
  const calls: string[] = [];
  let port = upstream + 1;
  const contenders: Array<[string, (p: number) => Promise<Server>]> = [
    ...pumps.map((pump): [string, (p: number) => Promise<Server>] => [`uring --pump ${pump}`, (p) => startServer(process.execPath,
      [entry, '--listen', `127.0.0.1:${p}`, '--upstream', `127.0.0.1:${upstream}`, '--workers', '1', '--pump', pump, '--quiet'], p, /\n/)]),
    ['haproxy splice-auto', (p) => startServer('haproxy', ['-db', '-f', writeHaproxyConf(tmp, p, upstream, 1)], p)],
  ];
  try {
    for (const [label, start] of contenders) {
      const p = port++;
      const s = await start(p);
      try {
        const url = `http://127.0.0.1:${p}/${fileName}`;
        rows.push([label, ...(await counted(url, s.child.pid!, nginx.child.pid!))]);
        if (withStrace) calls.push(`${label}: ${await syscalls(url, s.child.pid!)}`);
      } finally {
        await s.stop();
      }
    }
    const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    if (calls.length) console.log(`\nsystem calls per request (strace -c -f on the proxy, 2 s of wrk):\n${calls.join('\n')}`);
  } finally {
    await nginx.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
