/**
 * A TCP proxy on the ring: multishot accept on the listener, one
 * {@link ProxyConnection} per client, splice through pooled pipes both ways.
 */
import { Ring } from '../../lib/ring';
import '../../lib/ops-net';
import '../../lib/ops-relay';
import { PipePool } from '../../lib/pipes';
import { native } from '../../lib/native';
import { resolve, type Resolved } from '../../lib/net/address';
import type { AcceptStream } from '../../lib/ops-net';
import { ProxyConnection, type ProxyLog, type ProxyTotals, type UpstreamTarget } from './connection';
import { AF_UNIX, unixSockaddr } from '../../lib/net/unix';
import { adoptFd } from '../../lib/owned-fds';
import { uringError } from '../../lib/errors';

const K = native.socketConstants;
/** Capacity of each pooled pipe: one pipe-ful is what a direction buffers at most. */
const PIPE_SIZE = Number(process.env.URING_PROXY_PIPE_SIZE) || 1 << 16;

/**
 * How a proxy moves bytes. `'relay'` (default): the addon polls the source
 * on the ring and splices socket -> pipe -> socket itself, in C, with no
 * JavaScript per chunk (lib/ops-relay.ts). `'ready'`: the same readiness
 * scheme driven from JavaScript (a completion callback and two splice(2)
 * calls through N-API per chunk). `'io-wq'` submits IORING_OP_SPLICE, which
 * the kernel always runs in an io-wq worker thread (one hand-off per
 * splice). These three keep the payload out of user space. `'copy'` is the
 * relay in copy mode (recv/send SQEs through the ring's relay buffers): the
 * kernel copies the payload into user-space memory and out again, which at
 * small sizes costs less than splicing (as HAProxy's splice-auto decides);
 * it is not zero-copy. `'auto'` is the relay in auto mode, HAProxy's
 * splice-auto: a readiness event that brings under 16 KiB is copied through
 * a scratch buffer (recv + send), bulk is spliced through the pooled pipes.
 * bench/RESULTS.md compares them all.
 */
export type PumpKind = 'relay' | 'ready' | 'io-wq' | 'copy' | 'auto';

/** The pump kinds, for argument checks. */
export const PUMP_KINDS: readonly PumpKind[] = ['relay', 'ready', 'io-wq', 'copy', 'auto'];

/** Options for {@link createProxy}. */
export interface ProxyOptions {
  /** Address to listen on. */
  listenHost: string;
  /** Port to listen on (0: any free port). */
  listenPort: number;
  /** Upstream host (with upstreamPort; not with upstreamPath). */
  upstreamHost?: string;
  /** Upstream port. */
  upstreamPort?: number;
  /** Upstream Unix domain socket path, instead of a host and port (a leading '\0': an abstract name). */
  upstreamPath?: string;
  /** Close connections idle for this long (ms; 0 = never). Default 60000. */
  idleTimeoutMs?: number;
  /** Refuse (close at once) connections beyond this many. Default 10000. */
  maxConnections?: number;
  /** How splices run (default 'relay'). */
  pump?: PumpKind;
  /** Listen with SO_REUSEPORT (several workers on one port). */
  reusePort?: boolean;
  /** Where to log connection events (default: nowhere). */
  log?: ProxyLog;
  /** Ring to run on (default: the thread's ring). */
  ring?: Ring;
}

/** A running proxy. */
export interface Proxy {
  /** The bound address. */
  address(): { address: string; port: number; family: string };
  /** Connections open now. */
  readonly connections: number;
  /** Pipes in use now (one per direction of each established connection). */
  readonly pipesInUse: number;
  /** Empty pipes kept open in the pool for reuse (two fds each). */
  readonly pipesIdle: number;
  /** Bytes forwarded by finished directions: in total, and by splice. */
  readonly totals: Readonly<ProxyTotals>;
  /** Stops accepting, ends every connection and waits until all are closed. */
  close(): Promise<void>;
}

function validate(o: ProxyOptions): void {
  if (o.upstreamPath !== undefined) {
    if (typeof o.upstreamPath !== 'string' || o.upstreamPath === '') throw new TypeError('upstreamPath must be a non-empty string');
    if (o.upstreamHost !== undefined || o.upstreamPort !== undefined) {
      throw new TypeError('give upstreamPath or upstreamHost and upstreamPort, not both');
    }
  } else if (o.upstreamHost === undefined) {
    throw new TypeError('upstreamHost and upstreamPort (or upstreamPath) are required');
  }
  const ports = o.upstreamPath === undefined ? ['listenPort', 'upstreamPort'] as const : ['listenPort'] as const;
  for (const k of ports) {
    const v = o[k];
    if (!Number.isInteger(v) || v! < 0 || v! > 65535) throw new RangeError(`${k} must be an integer 0..65535, got ${String(v)}`);
  }
  if (o.upstreamPort === 0) throw new RangeError('upstreamPort must not be 0');
  if (o.idleTimeoutMs !== undefined && (!Number.isFinite(o.idleTimeoutMs) || o.idleTimeoutMs < 0)) {
    throw new RangeError(`idleTimeoutMs must be a number >= 0, got ${String(o.idleTimeoutMs)}`);
  }
  if (o.pump !== undefined && !PUMP_KINDS.includes(o.pump)) {
    throw new RangeError(`pump must be one of ${PUMP_KINDS.map((k) => `'${k}'`).join(', ')}, got ${String(o.pump)}`);
  }
  if (o.maxConnections !== undefined && (!Number.isInteger(o.maxConnections) || o.maxConnections < 1)) {
    throw new RangeError(`maxConnections must be an integer >= 1, got ${String(o.maxConnections)}`);
  }
}

/** The upstream to connect each client to: a Unix socket path, or the host (resolved once) and port. */
async function upstreamTarget(o: ProxyOptions): Promise<UpstreamTarget> {
  if (o.upstreamPath !== undefined) {
    const sockaddr = unixSockaddr(o.upstreamPath, 'connect');
    if (sockaddr instanceof Error) throw sockaddr;
    return { domain: AF_UNIX, sockaddr, label: `unix:${o.upstreamPath.replace(/\0/g, '@')}` };
  }
  const r = await resolve(o.upstreamHost!, o.upstreamPort!);
  return { domain: r.family === 6 ? K.AF_INET6! : K.AF_INET!, sockaddr: r.sockaddr,
    label: r.family === 6 ? `[${r.address}]:${o.upstreamPort!}` : `${r.address}:${o.upstreamPort!}` };
}

/** Binds a listening socket (plain syscalls: bind/listen are not worth a ring round trip). */
function listenSocket(at: Resolved, port: number, reusePort: boolean): number {
  const fd = adoptFd(native.socketSync(at.family === 6 ? K.AF_INET6! : K.AF_INET!, K.SOCK_STREAM!, 0));
  try {
    native.setsockopt(fd, K.SOL_SOCKET!, K.SO_REUSEADDR!, 1);
    if (reusePort) native.setsockopt(fd, K.SOL_SOCKET!, K.SO_REUSEPORT!, 1);
    native.bind(fd, at.sockaddr);
    native.listen(fd, 511);
  } catch (e) {
    native.closeFd(fd);
    const err = e as NodeJS.ErrnoException;
    const code = err.code ?? (typeof err.errno === 'number' ? uringError(Math.abs(err.errno), 'listen').code : undefined);
    throw Object.assign(new Error(`listen ${code ?? 'failed'} ${at.address}:${port}: ${err.message}`), {
      code, errno: err.errno, syscall: 'listen', address: at.address, port,
    });
  }
  return fd;
}

/** The ring's relay pipes (shared with any other relay on the ring); none once it is destroyed. */
function relayPipes(ring: Ring): { pipesInUse: number; pipesIdle: number } {
  try {
    return ring.relayStats();
  } catch {
    return { pipesInUse: 0, pipesIdle: 0 };
  }
}

/** Starts a proxy; resolves once it is listening. */
export async function createProxy(options: ProxyOptions): Promise<Proxy> {
  validate(options);
  const ring = options.ring ?? Ring.forThread();
  const log = options.log ?? (() => undefined);
  const idleMs = options.idleTimeoutMs ?? 60_000;
  const max = options.maxConnections ?? 10_000;
  const pump = options.pump ?? 'relay';
  const pool = new PipePool({ pipeSize: PIPE_SIZE, maxIdle: 256 });
  const upstream = await upstreamTarget(options);
  const at = await resolve(options.listenHost, options.listenPort);
  const lfd = listenSocket(at, options.listenPort, options.reusePort ?? false);
  const bound = native.getsockname(lfd) as { address: string; port: number; family: string };
  /** Each open connection and the promise that settles once it is closed and forgotten. */
  const live = new Map<ProxyConnection, Promise<void>>();
  const totals: ProxyTotals = { bytes: 0, splicedBytes: 0 };
  let closed = false;

  const accept: AcceptStream = ring.acceptMultishot(lfd, (err, fd) => {
    if (err) {
      log(`accept failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
      return;
    }
    if (closed || live.size >= max) {
      log(closed ? `closing fd ${fd}: proxy is shutting down` : `refusing fd ${fd}: ${max} connections already open`);
      void ring.close(fd).catch(() => undefined);
      return;
    }
    const c = new ProxyConnection(ring, adoptFd(fd), upstream, pool, log, totals, pump, PIPE_SIZE);
    live.set(c, c.run().then(() => { live.delete(c); }));
  });

  const sweep = idleMs > 0 ? setInterval(() => {
    const now = Date.now();
    for (const c of live.keys()) if (now - c.lastActive > idleMs) c.abort(`idle for more than ${idleMs} ms`);
  }, Math.max(10, Math.min(1000, idleMs / 2))) : undefined;
  sweep?.unref();

  return {
    address: () => bound,
    get connections() { return live.size; },
    get pipesInUse() { return pool.inUse + relayPipes(ring).pipesInUse; },
    get pipesIdle() { return pool.idle + relayPipes(ring).pipesIdle; },
    totals,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (sweep) clearInterval(sweep);
      accept.cancel();
      await accept.done;
      native.closeFd(lfd);
      for (const c of live.keys()) c.abort('proxy closing');
      await Promise.all(live.values()); // every connection still open, however many came and went before
      pool.close();
    },
  };
}
