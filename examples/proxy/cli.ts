/**
 * Command line of the proxy example:
 * `proxy --listen HOST:PORT --upstream HOST:PORT|unix:PATH [--workers N]
 *        [--idle-timeout MS] [--max-connections N] [--pump relay|ready|io-wq|copy|auto] [--quiet]`.
 */
import * as os from 'node:os';
import { PUMP_KINDS, type PumpKind } from './proxy';

/** Parsed command line. */
export interface ProxyCli {
  listenHost: string;
  listenPort: number;
  /** With upstreamPort; absent when the upstream is a Unix socket. */
  upstreamHost?: string;
  upstreamPort?: number;
  /** The upstream Unix socket (`--upstream unix:PATH`). */
  upstreamPath?: string;
  workers: number;
  idleTimeoutMs: number;
  maxConnections: number;
  pump: PumpKind;
  quiet: boolean;
}

/** Usage text. */
export const PROXY_USAGE = `usage: proxy --listen HOST:PORT --upstream HOST:PORT|unix:PATH [options]
  --workers N            worker threads, each with its own ring, sharing the port (default: one per core)
  --idle-timeout MS      close connections idle this long (default 60000; 0 = never)
  --max-connections N    refuse connections beyond N per worker (default 10000)
  --pump relay|ready|io-wq|copy|auto
                         how splices run: 'relay' (default) polls on the ring and splices
                         in the addon, no JavaScript per chunk; 'ready' does the same from
                         JavaScript; 'io-wq' submits IORING_OP_SPLICE (each call runs in a
                         kernel io-wq thread); 'copy' is not zero-copy: recv/send through
                         the ring's buffers, in the addon (cheaper than splice for small
                         messages); 'auto' copies reads under 16 KiB and splices bulk
                         (HAProxy's splice-auto)
  --quiet                no connection log
`;

function hostPort(v: string | undefined, flag: string): [string, number] {
  const m = v === undefined ? null : /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  if (!m) throw new Error(`${flag} wants HOST:PORT (for IPv6: [::1]:PORT), got ${v === undefined ? 'nothing' : `'${v}'`}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`${flag}: port ${port} is out of range`);
  return [m[1] ?? m[2]!, port];
}

function int(v: string | undefined, flag: string, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${flag} wants an integer >= ${min}, got ${v ?? 'nothing'}`);
  return n;
}

/** Parses argv (without node and the script). Throws an Error naming the bad flag. */
export function parseProxyArgs(argv: readonly string[]): ProxyCli {
  const out: Partial<ProxyCli> = { workers: Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
    idleTimeoutMs: 60_000, maxConnections: 10_000, pump: 'relay', quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--listen': [out.listenHost, out.listenPort] = hostPort(argv[++i], a); break;
      case '--upstream': {
        const v = argv[++i];
        if (v?.startsWith('unix:')) {
          if (v.length === 5) throw new Error("--upstream unix: wants a socket path after 'unix:'");
          out.upstreamPath = v.slice(5);
        } else {
          [out.upstreamHost, out.upstreamPort] = hostPort(v, a);
        }
        break;
      }
      case '--workers': out.workers = int(argv[++i], a, 1); break;
      case '--idle-timeout': out.idleTimeoutMs = int(argv[++i], a, 0); break;
      case '--max-connections': out.maxConnections = int(argv[++i], a, 1); break;
      case '--pump': {
        const v = argv[++i];
        if (!PUMP_KINDS.includes(v as PumpKind)) {
          throw new Error(`--pump wants ${PUMP_KINDS.map((k) => `'${k}'`).join(', ')}, got ${v === undefined ? 'nothing' : `'${v}'`}`);
        }
        out.pump = v as PumpKind;
        break;
      }
      case '--quiet': out.quiet = true; break;
      default: throw new Error(`unknown option '${a}'`);
    }
  }
  if (out.listenHost === undefined) throw new Error('--listen HOST:PORT is required');
  if (out.upstreamHost === undefined && out.upstreamPath === undefined) throw new Error('--upstream HOST:PORT (or unix:PATH) is required');
  if (out.upstreamPort === 0) throw new Error('--upstream: port 0 is not a real port');
  return out as ProxyCli;
}
