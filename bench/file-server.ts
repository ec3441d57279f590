/**
 * File-server benchmark: requests/s, MB/s and server CPU time per request for
 * one file size at a time, side by side:
 *
 *   node:http + createReadStream   (baseline: what a user would write)
 *   file-server on node:net        (--node)
 *   file-server on the ring, copy  (--no-zero-copy; needs lib/net)
 *   file-server on the ring, splice(--zero-copy --zero-copy-min 0; needs lib/net)
 *   file-server on the ring, default (--zero-copy: splice from 128 KiB up)
 *
 * Load comes from wrk (apt-get install -y wrk), one thread, keep-alive.
 * Each server runs in its own process with one worker; run the whole thing
 * under the exclusive lock:
 *
 *   flock -x /tmp/bench.lock node dist/bench/file-server.js [seconds] [connections]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const seconds = Number(process.argv[2] ?? 4);
const connections = Number(process.argv[3] ?? 16);
const entry = path.join(__dirname, '..', 'examples', 'file-server.js');
const baseline = path.join(__dirname, 'http-baseline.js');
const TICKS = 100; // USER_HZ on Linux

interface Variant {
  name: string;
  args: (root: string, port: number) => string[];
  /** Required text in the server's start line (else the variant is skipped). */
  needs?: RegExp;
}

const variants: Variant[] = [
  { name: 'node:http+stream', args: (r, p) => [baseline, r, String(p)] },
  { name: 'fs-server node:net', args: (r, p) => [entry, '--root', r, '--port', String(p), '--workers', '1', '--quiet', '--node'] },
  {
    name: 'fs-server ring copy',
    args: (r, p) => [entry, '--root', r, '--port', String(p), '--workers', '1', '--quiet', '--no-zero-copy'],
    needs: /net: uring/,
  },
  {
    name: 'fs-server ring splice',
    args: (r, p) => [entry, '--root', r, '--port', String(p), '--workers', '1', '--quiet', '--zero-copy', '--zero-copy-min', '0'],
    needs: /net: uring.*zero-copy/,
  },
  {
    name: 'fs-server ring default',
    args: (r, p) => [entry, '--root', r, '--port', String(p), '--workers', '1', '--quiet', '--zero-copy'],
    needs: /net: uring.*zero-copy/,
  },
];

const sizes: Array<[string, number]> = [
  ['1k.bin', 1024],
  ['64k.bin', 64 * 1024],
  ['256k.bin', 256 * 1024],
  ['1m.bin', 1024 * 1024],
];

function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function startServer(v: Variant, root: string, port: number): Promise<{ child: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, v.args(root, port), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve({ child, line: out.split('\n')[0] });
    });
    child.stderr!.on('data', () => undefined);
    child.on('exit', (c) => reject(new Error(`${v.name} exited ${c}`)));
  });
}

function wrk(url: string, secs = seconds): { rps: number; mbps: number; requests: number } {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${secs}s`, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const tr = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const unit = tr ? ({ B: 1e-6, KB: 1 / 1024, MB: 1, GB: 1024 } as Record<string, number>)[tr[2]] ?? 1 : 0;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (/Non-2xx/.test(out)) throw new Error(`errors from ${url}:\n${out}`);
  return { rps, mbps: tr ? Number(tr[1]) * unit : 0, requests };
}

async function main(): Promise<void> {
  try {
    execFileSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' });
  } catch {
    throw new Error('wrk is missing: apt-get install -y wrk');
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'http-bench-'));
  for (const [name, size] of sizes) {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = i & 0xff;
    fs.writeFileSync(path.join(root, name), b);
  }
  console.log(`file-server bench: wrk -t1 -c${connections} -d${seconds}s, ${os.cpus().length} cores, node ${process.version}`);
  const rows: string[] = [];
  const base: Record<string, number> = {};
  let port = 18900;
  try {
    for (const v of variants) {
      const p = port++;
      const { child, line } = await startServer(v, root, p);
      try {
        if (v.needs && !v.needs.test(line)) {
          rows.push(`${v.name.padEnd(22)} skipped (${line.trim()})`);
          continue;
        }
        for (const [name] of sizes) {
          wrk(`http://127.0.0.1:${p}/${name}`, 1); // warm-up
          const t0 = cpuTicks(child.pid!);
          const r = wrk(`http://127.0.0.1:${p}/${name}`);
          const cpu = (cpuTicks(child.pid!) - t0) / TICKS;
          const usPerReq = (cpu / r.requests) * 1e6;
          if (v === variants[0]) base[name] = r.rps;
          const ratio = base[name] ? (r.rps / base[name]).toFixed(2) : '-';
          rows.push(
            `${v.name.padEnd(22)} ${name.padEnd(8)} ${r.rps.toFixed(0).padStart(8)} req/s  ${r.mbps.toFixed(1).padStart(7)} MB/s  ` +
              `${usPerReq.toFixed(1).padStart(7)} us CPU/req  x${ratio} vs baseline`,
          );
          console.log(rows[rows.length - 1]);
        }
      } finally {
        child.kill('SIGKILL');
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  for (const r of rows) if (r.includes('skipped')) console.log(r);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
