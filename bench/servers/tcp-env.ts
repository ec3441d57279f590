/**
 * The TCP settings a loopback server bench runs under, and a way to choose
 * the congestion control without touching the machine's own setting.
 *
 * Why it matters: on this project's test machine the system default is BBR,
 * and on loopback (qdisc noqueue, not fq) BBR paces in TCP itself with
 * high-resolution timers. Measured there (bench/RESULTS.md, session 10):
 * nginx serves a 1 MiB file at about 2.5k requests/s under BBR and about
 * 8.8k under CUBIC, and every 1 MiB row moves with it. A figure means
 * little without the congestion control it was taken under, so the benches
 * print it in their header.
 *
 * `BENCH_CC=cubic npm run bench:http` (root only) runs the whole bench, its
 * servers and wrk in a private network namespace (`unshare --net`) whose
 * loopback uses that congestion control; the machine's setting is left as
 * it is. `unshare` and `ip` come with Debian (util-linux, iproute2).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

function readProc(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** "tcp congestion control bbr (machine default)": for a bench's header. */
export function describeTcp(): string {
  const cc = readProc('/proc/sys/net/ipv4/tcp_congestion_control');
  const where = process.env.BENCH_NETNS === '1' ? 'private network namespace, BENCH_CC' : 'machine default';
  return `tcp congestion control ${cc} (${where})`;
}

/**
 * With `BENCH_CC` set (and not yet inside the namespace), runs this same
 * bench again inside a new network namespace with loopback up and that
 * congestion control, waits for it, and exits with its status; otherwise
 * returns. Throws, before anything runs, when the name is not one the
 * kernel offers or when not running as root.
 */
export function rerunUnderCongestionControl(): void {
  const cc = process.env.BENCH_CC;
  if (cc === undefined || cc === '' || process.env.BENCH_NETNS === '1') return;
  const available = readProc('/proc/sys/net/ipv4/tcp_available_congestion_control').split(/\s+/);
  if (!available.includes(cc)) {
    throw new Error(`BENCH_CC=${cc}: not a congestion control this kernel offers (available: ${available.join(', ')})`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`BENCH_CC=${cc} needs root (unshare --net); run as root or leave BENCH_CC unset`);
  }
  // $1 is the congestion control, the rest the command. The write to /proc
  // inside the new namespace changes only that namespace's setting.
  const script = 'ip link set lo up && echo "$1" > /proc/sys/net/ipv4/tcp_congestion_control && shift && exec "$@"';
  const r = spawnSync('unshare', ['--net', '--', 'sh', '-c', script, 'sh', cc, process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_NETNS: '1' },
  });
  if (r.error) throw new Error(`BENCH_CC: could not run unshare: ${r.error.message}`);
  process.exit(r.status ?? 1);
}
