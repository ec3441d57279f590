/**
 * bench/echo: TCP echo servers under a closed-loop load (bench/c/echo-load.c),
 * 50 connections, messages of 64 B and 64 KiB, then the memory each server
 * holds with 10,000 idle connections open. Servers compared:
 *
 *   node:net   bench/node-net-echo.js (socket.pipe(socket))
 *   C epoll    bench/c/echo-epoll.c (one thread, level-triggered epoll)
 *   ours       dist/examples/echo-server.js (default --mode copy); ours-splice and ours-recv: the other modes
 *
 * Servers and the load generator run under `prlimit --nofile=65536` (or the
 * hard limit, when the bench may not raise it).
 * On this 2-CPU machine the server and the load generator share the CPUs.
 *
 * usage: node dist/bench/echo.js [--seconds 5] [--warmup 1] [--conns 50]
 *          [--sizes 64,65536] [--idle 10000] [--only node,c,ours,ours-splice,ours-recv] [--ours-server PATH]
 * (--ours-server: another build of the echo example, default dist/examples/echo-server.js)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import {
  compileC, ensurePackage, fmt, freePort, numArg, parseArgs, printTable, ratio, ROOT, rssKiB, runJson,
  startProcess, stopProcess, waitForPort,
} from './util';

interface LoadResult { conns: number; size: number; messages: number; seconds: number; msgsPerSec: number; bytesPerSec: number }
interface ServerResult { name: string; load: Map<number, LoadResult>; rssStartKiB: number; rssIdleKiB?: number; note?: string }

const args = parseArgs();
const SECONDS = numArg(args, 'seconds', 5);
const WARMUP = numArg(args, 'warmup', 1);
const CONNS = numArg(args, 'conns', 50);
const SIZES = (args.get('sizes') ?? '64,65536').split(',').map(Number);
const IDLE = numArg(args, 'idle', 10000);
const HOST = '127.0.0.1';
let NOFILE = '--nofile=65536:65536';

/**
 * RLIMIT_NOFILE for servers and client: 65536, or the hard limit when this
 * process may not raise it (no CAP_SYS_RESOURCE, e.g. in a container).
 */
function chooseNofile(): void {
  if (spawnSync('prlimit', [NOFILE, 'true'], { stdio: 'ignore' }).status === 0) return;
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
  NOFILE = `--nofile=${hard}:${hard}`;
  console.log(`# cannot raise RLIMIT_NOFILE to 65536 (no CAP_SYS_RESOURCE); using the hard limit ${hard}`);
  if (hard < IDLE + 100) throw new Error(`hard RLIMIT_NOFILE ${hard} is too low for --idle ${IDLE}`);
}

interface ServerSpec { key: string; name: string; argv: (port: number) => string[] | undefined; missing?: string }

function servers(): ServerSpec[] {
  const ours = path.resolve(args.get('ours-server') ?? path.join(ROOT, 'dist', 'examples', 'echo-server.js'));
  return [
    { key: 'node', name: 'node:net (socket.pipe)', argv: (p) => [process.execPath, path.join(ROOT, 'bench', 'node-net-echo.js'), '--port', String(p), '--host', HOST] },
    { key: 'c', name: 'C epoll', argv: (p) => [compileC('echo-epoll'), String(p), HOST] },
    ...(['copy', 'splice', 'recv'] as const).map((mode) => ({
      key: mode === 'copy' ? 'ours' : `ours-${mode}`, name: `ours (echo-server --mode ${mode})`,
      argv: (p: number) => (fs.existsSync(ours) ? [process.execPath, ours, '--port', String(p), '--host', HOST, '--mode', mode] : undefined),
      missing: `${ours} not found (the echo example is not built)`,
    })),
  ];
}

/** Opens IDLE connections, waits until each was echoed once, reads the server's RSS, closes them. */
async function idleRss(load: string, port: number, serverPid: number): Promise<{ rss: number; served: number }> {
  const child = spawn('prlimit', [NOFILE, load, HOST, String(port), String(IDLE), '1', '0', '0', '--idle'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`idle client exited (${code}) before ready: ${out}`)));
  });
  const state = JSON.parse(ready) as { ready: number; asked: number; stalled: boolean };
  await new Promise((r) => setTimeout(r, 500)); // let the server settle (GC, lazy frees)
  const rss = rssKiB(serverPid);
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  return { rss, served: state.ready };
}

async function benchServer(spec: ServerSpec, load: string): Promise<ServerResult | undefined> {
  const port = await freePort();
  const argv = spec.argv(port);
  if (!argv) {
    console.log(`# skipping ${spec.name}: ${spec.missing}`);
    return undefined;
  }
  const server = startProcess('prlimit', [NOFILE, ...argv]);
  server.stdout?.resume();
  try {
    await waitForPort(port, HOST);
    const res: ServerResult = { name: spec.name, load: new Map(), rssStartKiB: rssKiB(server.pid!) };
    for (const size of SIZES) {
      const r = runJson<LoadResult>('prlimit', [NOFILE, load, HOST, String(port), String(CONNS), String(size),
        String(SECONDS), String(WARMUP)], { timeoutMs: (SECONDS + WARMUP + 60) * 1000 });
      res.load.set(size, r);
      console.log(`# ${spec.name}, ${size} B x ${CONNS} conns: ${fmt(r.msgsPerSec)} msg/s, ${(r.bytesPerSec / 1e9).toFixed(3)} GB/s`);
    }
    if (IDLE > 0) {
      const idle = await idleRss(load, port, server.pid!);
      res.rssIdleKiB = idle.rss;
      if (idle.served < IDLE) {
        res.note = `only ${fmt(idle.served)} of ${fmt(IDLE)} connections got their 1-byte echo (no progress for 10 s)`;
        console.log(`# ${spec.name}: ${res.note}`);
      }
      console.log(`# ${spec.name}: RSS ${fmt(res.rssStartKiB / 1024, 1)} MiB at start, ` +
        `${fmt(res.rssIdleKiB / 1024, 1)} MiB with ${fmt(IDLE)} idle connections open`);
    }
    return res;
  } finally {
    await stopProcess(server);
  }
}

async function main(): Promise<void> {
  if (!ensurePackage('prlimit', 'util-linux')) throw new Error('prlimit is needed to raise RLIMIT_NOFILE');
  chooseNofile();
  const load = compileC('echo-load');
  const only = args.get('only')?.split(',');
  console.log(`# echo: ${CONNS} connections, closed loop, ${SECONDS} s per size (+${WARMUP} s warm-up), ` +
    `idle test with ${fmt(IDLE)} connections`);
  const results: ServerResult[] = [];
  const byKey = new Map<string, ServerResult>();
  for (const spec of servers()) {
    if (only && !only.includes(spec.key)) continue;
    const r = await benchServer(spec, load);
    if (r) {
      results.push(r);
      byKey.set(spec.key, r);
    }
  }
  const base = byKey.get('node');
  const header = ['server'];
  for (const s of SIZES) header.push(`${s} B msg/s`, `${s} B GB/s`, `${s} B vs node:net`);
  header.push('RSS idle start MiB', `RSS ${IDLE} conns MiB`, 'KiB / conn');
  const rows = [header];
  for (const r of results) {
    const row = [r.name];
    for (const s of SIZES) {
      const l = r.load.get(s)!;
      row.push(fmt(l.msgsPerSec), (l.bytesPerSec / 1e9).toFixed(3), ratio(l.msgsPerSec, base?.load.get(s)?.msgsPerSec));
    }
    row.push(fmt(r.rssStartKiB / 1024, 1), r.rssIdleKiB ? fmt(r.rssIdleKiB / 1024, 1) : 'n/a',
      r.rssIdleKiB ? ((r.rssIdleKiB - r.rssStartKiB) / IDLE).toFixed(2) : 'n/a');
    rows.push(row);
  }
  console.log('');
  printTable(rows);
  const c = byKey.get('c');
  for (const [key, r] of byKey) {
    if (!key.startsWith('ours')) continue;
    for (const s of SIZES) console.log(`${r.name} / C epoll at ${s} B: ${ratio(r.load.get(s)?.msgsPerSec, c?.load.get(s)?.msgsPerSec)}`);
    if (r.rssIdleKiB && base?.rssIdleKiB) {
      console.log(`${r.name} RSS with ${fmt(IDLE)} idle connections / node:net's: ${ratio(r.rssIdleKiB, base.rssIdleKiB)}`);
    }
  }
  for (const r of results) if (r.note) console.log(`note: ${r.name}: ${r.note}`);
  console.log('GB/s = payload bytes echoed per second, one direction (1 GB = 1e9 B).');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
