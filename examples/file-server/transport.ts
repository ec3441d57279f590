/**
 * The network layer the server runs on, injected: the runtime's node:net
 * shaped facade (`lib/net`, io_uring) when it exists in this build, otherwise
 * `node:net`. Only the node:net API shape is used, plus two optional extras
 * of the facade: `sendFile` (zero-copy file -> socket) and the `reusePort`
 * listen option (several workers on one port).
 */
import * as nodeNet from 'node:net';
import type { Duplex } from 'node:stream';
import type { FileLike } from './file-io';

/** A connected socket: a Duplex stream plus the node:net bits the server uses. */
export interface SocketLike extends Duplex {
  remoteAddress?: string;
  setNoDelay?(noDelay?: boolean): unknown;
  cork(): void;
  uncork(): void;
}

/** Listen options (node:net's, plus the facade's `reusePort`). */
export interface ListenOptions {
  port: number;
  host?: string;
  backlog?: number;
  /** SO_REUSEPORT: several listeners (one per worker) share the port. Facade only. */
  reusePort?: boolean;
}

/** A listening server, node:net shaped. */
export interface ServerLike {
  listen(options: ListenOptions, callback?: () => void): unknown;
  close(callback?: (err?: Error) => void): unknown;
  address(): nodeNet.AddressInfo | string | null;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'listening', listener: () => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * Zero-copy file -> socket transfer of `[start, end]` (inclusive end, like
 * node's `{start, end}`), sending `headers` first (the facade coalesces them
 * with the first body segment using MSG_MORE). Writes already queued on the
 * socket go out before it. `stallTimeout` (ms, 0: none) makes it reject with
 * an `ETIMEDOUT` error when the client takes nothing for that long.
 */
export type SendFileFn = (
  socket: SocketLike,
  file: FileLike,
  options: { start: number; end: number; headers?: Uint8Array; stallTimeout?: number },
) => Promise<unknown>;

/** The module: `createServer` like node:net's, `sendFile` when zero-copy is available. */
export interface NetModule {
  /** The facade's backend: `'io_uring'`, or `'node'` when it fell back to node:net. */
  backend?: string;
  createServer(options: { allowHalfOpen?: boolean }, listener: (socket: SocketLike) => void): ServerLike;
  sendFile?: SendFileFn;
}

/** A loaded transport and what it can do. */
export interface Transport {
  /** `'uring'` for the runtime's facade, `'node'` for node:net. */
  readonly name: 'uring' | 'node';
  readonly net: NetModule;
  /** Whether `listen({ reusePort: true })` is honoured (needed for `--workers` > 1). */
  readonly reusePort: boolean;
  /** Sets SO_SNDBUF on an accepted socket; absent when the transport cannot (node:net). */
  readonly setSendBuffer?: (socket: SocketLike, bytes: number) => void;
}

/** node:net as a {@link Transport}. Node 20 has no SO_REUSEPORT. */
export const nodeTransport: Transport = {
  name: 'node',
  net: { createServer: (o, l) => nodeNet.createServer(o, (s) => l(s)) as unknown as ServerLike },
  reusePort: false,
};

function isNetModule(m: unknown): m is NetModule {
  return !!m && typeof (m as Partial<NetModule>).createServer === 'function';
}

/**
 * The runtime's net facade (`lib/net`) when it exists in this build, else
 * node:net. Pass `prefer: 'node'` to force node:net.
 */
export function loadTransport(prefer: 'auto' | 'node' = 'auto'): Transport {
  if (prefer === 'node') return nodeTransport;
  let m: unknown;
  try {
    // Resolved at run time: lib/net.ts is written in parallel and may be absent.
    m = require('../../lib/net');
  } catch {
    return nodeTransport;
  }
  if (!isNetModule(m)) return nodeTransport;
  // The facade may itself have fallen back to node:net (io_uring unavailable): no SO_REUSEPORT then.
  const onRing = m.backend === undefined || m.backend === 'io_uring';
  if (!onRing) return { name: 'node', net: m, reusePort: false };
  const { native } = require('../../lib/native') as typeof import('../../lib/native');
  const K = native.socketConstants;
  const setSendBuffer = (socket: SocketLike, bytes: number): void => {
    const fd = (socket as { fd?: unknown }).fd;
    if (typeof fd !== 'number' || fd < 0) return;
    try { native.setsockopt(fd, K.SOL_SOCKET!, K.SO_SNDBUF!, bytes); } catch { /* closed already */ }
  };
  return { name: 'uring', net: m, reusePort: true, setSendBuffer };
}

/**
 * Whether bodies go out through the facade's zero-copy `sendFile` by default.
 * THE ONE-LINE SWITCH: set to true once lib/net (with `sendFile`) is merged.
 * Written against the net branch's `sendFile(socket, file, { start, end,
 * headers })`: inclusive `end`, response head passed as `headers`.
 */
export const USE_FACADE_SENDFILE = true;
