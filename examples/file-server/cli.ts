/**
 * Command line: `file-server [--root DIR] [--port N] [--host ADDR] [--workers N]
 * [--header-timeout MS] [--max-connections N] [--quiet] [--node]`.
 */
import * as os from 'node:os';
import * as path from 'node:path';

/** Parsed command line. */
export interface CliOptions {
  root: string;
  port: number;
  host: string;
  /** Worker threads wanted (default: one per core). */
  workers: number;
  headerTimeoutMs: number;
  maxConnections?: number;
  /** No access log. */
  quiet: boolean;
  /** Force node:net and node:fs/promises instead of the runtime. */
  forceNode: boolean;
  /** Zero-copy bodies (sendFile) when the transport has them; undefined: the build's default. */
  zeroCopy?: boolean;
  /** Smallest body sent zero-copy (undefined: the server's default). */
  zeroCopyMinBytes?: number;
  /** SO_SNDBUF for client connections (undefined: the kernel's autotuning). */
  sndbuf?: number;
}

/** Usage text. */
export const USAGE = `usage: file-server [options]
  --root DIR            directory to serve (default: the repository root)
  --port N              port (default 8080; 0 = any free port)
  --host ADDR           address (default 127.0.0.1)
  --workers N           worker threads, each with its own ring (default: one per core)
  --header-timeout MS   close clients whose request head is not complete in time (default 10000)
  --max-connections N   refuse (503) connections beyond N
  --node                use node:net / node:fs instead of the io_uring runtime
  --zero-copy, --no-zero-copy
                        send bodies with the facade's sendFile (splice), or copy them
  --zero-copy-min N     smallest body sent zero-copy (default 131072)
  --sndbuf BYTES        fixed send buffer per connection (SO_SNDBUF; default: the kernel's
                        autotuning). Behind a proxy on the same host, 131072 keeps loopback
                        transfers of large files fast under BBR (bench/RESULTS.md,
                        sessions 9-10); over a
                        long round trip it caps each download (2 x BYTES unacknowledged at most)
  --quiet               no access log
`;

function intArg(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }
  return n;
}

/** Parse `argv` (without node and script). Throws RangeError/TypeError naming the bad option. */
export function parseArgs(argv: readonly string[], defaultRoot: string): CliOptions | 'help' {
  const o: CliOptions = {
    root: defaultRoot,
    port: 8080,
    host: '127.0.0.1',
    workers: Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
    headerTimeoutMs: 10_000,
    quiet: false,
    forceNode: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (name) {
      case '-h':
      case '--help':
        return 'help';
      case '--root': {
        const v = value();
        if (!v) throw new TypeError('--root needs a directory');
        o.root = path.resolve(v);
        break;
      }
      case '--port':
        o.port = intArg('--port', value(), 0, 65535);
        break;
      case '--host': {
        const v = value();
        if (!v) throw new TypeError('--host needs an address');
        o.host = v;
        break;
      }
      case '--workers':
        o.workers = intArg('--workers', value(), 1, 1024);
        break;
      case '--header-timeout':
        o.headerTimeoutMs = intArg('--header-timeout', value(), 1, 3_600_000);
        break;
      case '--max-connections':
        o.maxConnections = intArg('--max-connections', value(), 1, 1_000_000);
        break;
      case '--quiet':
        o.quiet = true;
        break;
      case '--node':
        o.forceNode = true;
        break;
      case '--zero-copy':
        o.zeroCopy = true;
        break;
      case '--no-zero-copy':
        o.zeroCopy = false;
        break;
      case '--zero-copy-min':
        o.zeroCopyMinBytes = intArg('--zero-copy-min', value(), 0, Number.MAX_SAFE_INTEGER);
        break;
      case '--sndbuf':
        o.sndbuf = intArg('--sndbuf', value(), 4096, 1 << 30);
        break;
      default:
        throw new TypeError(`unknown option ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  return o;
}
