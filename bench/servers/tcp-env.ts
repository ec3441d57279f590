/**
 * The TCP settings a loopback server bench runs under, and a way to choose
 * the congestion control without touching the machine's own setting.
 *
 * Why it matters: on this project's test machine the system default is BBR,
 * and on loopback (qdisc noqueue, not fq) BBR paces in TCP itself with
 * high-resolution timers. Measured there (bench/RESULTS.md, session 10):
 * nginx serves a 1 MiB file at about 2.5k requests/s under BBR and about
 * 8.8k under CUBIC, and most 1 MiB rows move with it. A figure means
 * little without the congestion control it was taken under, so the benches
 * print it in their header.
 *
 * `BENCH_CC=cubic npm run bench:http` (root only) runs the whole bench, its
 * servers and wrk in a private network namespace (`unshare --net`) whose
 * loopback uses that congestion control; the machine's setting is left as
 * it is. `unshare` and `ip` come with Debian (util-linux, iproute2).
 */
import { spawn, spawnSync } from 'node:child_process';
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
 * bench (node flags included) again inside a new network namespace with
 * loopback up and that congestion control, passes SIGTERM and SIGHUP on to
 * it (SIGINT from a terminal reaches it directly), and exits as it did (a signal that killed it kills this process
 * too); otherwise returns at once. Throws, before anything runs, when the
 * name is not one the kernel offers to a namespace
 * (tcp_allowed_congestion_control, or the machine's own default), when not
 * running as root, or when `unshare` or `ip` is missing.
 */
export async function rerunUnderCongestionControl(): Promise<void> {
  const cc = process.env.BENCH_CC;
  if (cc === undefined || cc === '' || process.env.BENCH_NETNS === '1') return;
  const list = (name: string): string[] => {
    try {
      return fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/);
    } catch (e) {
      throw new Error(`BENCH_CC=${cc}: cannot read /proc/sys/net/ipv4/${name} (${(e as Error).message})`);
    }
  };
  // A namespace may choose only an allowed algorithm (the kernel refuses others with EPERM).
  const allowed = [...list('tcp_allowed_congestion_control'), ...list('tcp_congestion_control')];
  if (!allowed.includes(cc)) {
    throw new Error(`BENCH_CC=${cc}: a network namespace may use only ${[...new Set(allowed)].join(', ')} ` +
      '(net.ipv4.tcp_allowed_congestion_control)');
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`BENCH_CC=${cc} needs root (unshare --net); run as root or leave BENCH_CC unset`);
  }
  for (const tool of ['unshare', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
      throw new Error(`BENCH_CC needs \`${tool}\` (apt-get install -y ${tool === 'ip' ? 'iproute2' : 'util-linux'})`);
    }
  }
  // $1 is the congestion control, the rest the command. The write to /proc
  // inside the new namespace changes only that namespace's setting.
  const script = 'ip link set lo up && echo "$1" > /proc/sys/net/ipv4/tcp_congestion_control && shift && exec "$@"';
  const child = spawn('unshare', ['--net', '--', 'sh', '-c', script, 'sh', cc, process.execPath, ...process.execArgv,
    ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, BENCH_NETNS: '1' } });
  // Nothing runs here yet but the child: its own handlers (servers/run.ts) clean up inside.
  // Ctrl-C reaches the child from the terminal (same process group): here it is only
  // ignored, since a second SIGINT could kill the child in the middle of its cleanup.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const forward = (sig: NodeJS.Signals): void => {
    if (sig !== 'SIGINT') child.kill(sig);
  };
  for (const sig of signals) {
    process.removeAllListeners(sig);
    process.on(sig, forward);
  }
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`BENCH_CC: could not run unshare: ${e.message}`)));
    child.once('exit', (c, s) => resolve([c, s]));
  });
  for (const sig of signals) process.off(sig, forward);
  if (signal) process.kill(process.pid, signal);
  process.exit(code ?? 1);
}
