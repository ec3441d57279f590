/**
 * node:net-shaped networking on io_uring.
 *
 * ```ts
 * import { net } from 'uring-node'; // or: import * as net from 'uring-node/net'
 * const server = net.createServer((socket) => socket.pipe(socket));
 * server.listen(7000, '127.0.0.1', () => console.log(server.address()));
 * ```
 *
 * `createServer`, `connect`/`createConnection`, `Server`, `Socket` and
 * `sendFile` work like their node:net counterparts, over TCP or Unix domain
 * sockets (`listen(path)`, `connect(path)`). Where io_uring cannot be
 * used (the Ring throws `ERR_IO_URING_UNAVAILABLE`, or the kernel lacks
 * provided-buffer rings / multishot recv) or `URING_BACKEND=node` is set, the
 * same functions hand out node:net objects instead, after one warning with
 * code `URING_FALLBACK`. {@link backend} says which is in use.
 */
import * as nodeNet from 'node:net';
import { Ring } from './ring';
import { BufferGroup } from './net/bufgroup';
import { Socket as UringSocket, type ConnectOptions, type SocketOptions } from './net/socket';
import { Server as UringServer, type ServerOptions, type ConnectionListener } from './net/server';

export type { SocketOptions, ConnectOptions, AddressInfo, SocketPromises } from './net/socket';
export type { ServerOptions, ListenOptions, ConnectionListener } from './net/server';
export { sendFile, type SendFileOptions, type SendFileTarget, type FileTruncatedError,
  type SendFileTimeoutError } from './net/sendfile';
export { isIP, isIPv4, isIPv6 } from 'node:net';

/** Buffer group id used once to check that the kernel has provided-buffer rings. */
const PROBE_BGID = 0x4e50;

/** Which implementation the facade uses. */
export type Backend = 'io_uring' | 'node';

function chooseBackend(): Backend {
  if (process.env.URING_BACKEND === 'node') return 'node';
  let reason: string;
  try {
    // Probe on the thread's small shared ring; the facade's own (large) ring
    // is created on first use.
    const ring = Ring.forThread();
    const p = ring.probe();
    const missing = (['SOCKET', 'ACCEPT', 'RECV', 'SEND', 'SHUTDOWN', 'SPLICE'] as const).filter((o) => !p.has(o));
    if (missing.length === 0) {
      new BufferGroup(ring, PROBE_BGID, { count: 1, size: 4096 }).close(); // provided-buffer rings: Linux 5.19
      return 'io_uring';
    }
    reason = `the kernel lacks io_uring opcodes ${missing.join(', ')}`;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    reason = err.code === 'ERR_IO_URING_UNAVAILABLE'
      ? err.message
      : `provided-buffer rings are unavailable (${err.message}); Linux 6.0 or newer is needed`;
  }
  process.emitWarning(`uring-node/net falls back to node:net: ${reason}`, { code: 'URING_FALLBACK' });
  return 'node';
}

/** 'io_uring' when sockets run on the ring, 'node' when the facade fell back to node:net. */
export const backend: Backend = chooseBackend();

/** The Socket class of the active backend (node:net's when the facade fell back). */
export const Socket: typeof UringSocket = backend === 'node' ? nodeNet.Socket as unknown as typeof UringSocket : UringSocket;
/** A TCP socket (the io_uring implementation's type; node:net's Socket has the same surface). */
export type Socket = UringSocket;
/** The Server class of the active backend. */
export const Server: typeof UringServer = backend === 'node' ? nodeNet.Server as unknown as typeof UringServer : UringServer;
/** A TCP server. */
export type Server = UringServer;

/** A socket from either backend. */
export type AnySocket = UringSocket | nodeNet.Socket;
/** A server from either backend. */
export type AnyServer = UringServer | nodeNet.Server;

/**
 * Creates a TCP or Unix-socket server (node:net's `createServer(options?, connectionListener?)`).
 */
export function createServer(options?: ServerOptions | ConnectionListener, listener?: ConnectionListener): UringServer {
  if (backend === 'node') {
    return nodeNet.createServer(options as nodeNet.ServerOpts, listener as unknown as (s: nodeNet.Socket) => void) as
      unknown as UringServer;
  }
  return new UringServer(options, listener);
}

/**
 * Opens a connection: `connect(port, host?, cb?)`, `connect(path, cb?)` (a Unix
 * socket) or `connect({ port, host } | { path }, cb?)`.
 * Returns the socket at once; it emits 'connect' or 'error'.
 */
export function connect(port: number | string | (ConnectOptions & SocketOptions), host?: string | (() => void),
  cb?: () => void): UringSocket {
  if (backend === 'node') {
    // node:net takes its last argument as the callback: pass no trailing undefineds.
    const args: unknown[] = [port, host, cb];
    while (args.length > 1 && args[args.length - 1] === undefined) args.pop();
    return (nodeNet.connect as (...a: unknown[]) => nodeNet.Socket)(...args) as unknown as UringSocket;
  }
  const sockOpts: SocketOptions = typeof port === 'object' && port !== null ? port : {};
  return new UringSocket(sockOpts).connect(port, host, cb);
}

/** Same as {@link connect}. */
export const createConnection = connect;
