/**
 * The file server: `createFileServer(options)` -> `{ listen, close, address }`.
 */
import { realpathSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Connection, lingerThenDestroy, type AccessLogEntry } from './connection';
import { FileCache, type FileCacheOptions } from './file-cache';
import { loadFileSystem, type FileSystem } from './file-io';
import { respond } from './respond';
import { serializeWhole, statusReply } from './reply';
import { loadTransport, USE_FACADE_SENDFILE, type ServerLike, type SocketLike, type Transport } from './transport';

/** Options of {@link createFileServer}. */
export interface FileServerOptions {
  /** Directory to serve (must exist). */
  root: string;
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /** Listen port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Share the port with other listeners (SO_REUSEPORT; the runtime's transport only). */
  reusePort?: boolean;
  /** Close a connection whose next request head is not complete within this many ms. Default 10000. */
  headerTimeoutMs?: number;
  /**
   * Drop a client that reads nothing of a response for this many ms, copied
   * and zero-copy bodies alike. Default 30000; 0 disables.
   */
  sendTimeoutMs?: number;
  /** Largest request head in bytes (larger: 431). Default 8192. */
  maxHeaderBytes?: number;
  /** Longest request-target in bytes (longer: 414). Default 4096. */
  maxUriBytes?: number;
  /** Most simultaneous connections; more are answered 503 and closed. Default unlimited. */
  maxConnections?: number;
  /** Serve names starting with `.` (default false: 404). */
  dotfiles?: boolean;
  /** List directories without index.html (default true; false: 403). */
  listings?: boolean;
  /** Open-file cache settings. */
  cache?: FileCacheOptions;
  /** Network layer (default: the runtime's facade if built, else node:net). */
  transport?: Transport;
  /** File system layer (default: the runtime's fs facade if built, else node:fs/promises). */
  fileSystem?: FileSystem;
  /** Send bodies with the transport's zero-copy `sendFile` when it has one. */
  zeroCopy?: boolean;
  /**
   * Smallest body sent zero-copy; smaller ones are copied (fewer ring round
   * trips per response). Default 131072 (see bench/RESULTS.md, "File server").
   */
  zeroCopyMinBytes?: number;
  /**
   * SO_SNDBUF for each client connection, in bytes (the kernel doubles it).
   * Default: unset, the kernel's autotuning. On loopback (a proxy on the
   * same host) under BBR a fixed 131072 keeps large-file transfers out of a
   * slow regime that large buffers fall into (bench/RESULTS.md, sessions
   * 9-10; under CUBIC none showed in three runs); over
   * a long round trip it caps each connection (twice this unacknowledged at most).
   * Needs a transport whose sockets expose their fd (the runtime's).
   */
  sndbuf?: number;
  /** Called once per response. */
  log?: (entry: AccessLogEntry) => void;
}

/** A created file server. */
export interface FileServer {
  /** Start listening; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Stop accepting, drop open connections, close cached files. */
  close(): Promise<void>;
  /** Same as {@link FileServer.close} (`await using server = createFileServer(...)`). */
  [Symbol.asyncDispose](): Promise<void>;
  /** The bound address, or null before listen. */
  address(): AddressInfo | null;
  /** The network layer in use. */
  readonly transport: Transport;
  /** The file-system layer in use. */
  readonly fileSystem: FileSystem;
  /** Number of open connections. */
  readonly connections: number;
  /** Whether bodies go out through the transport's zero-copy `sendFile`. */
  readonly zeroCopy: boolean;
}

function checkInt(name: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new TypeError(`The "${name}" option must be an integer. Received ${typeof v === 'number' ? v : typeof v}`);
  }
  if (v < min || v > max) throw new RangeError(`The "${name}" option must be >= ${min} and <= ${max}. Received ${v}`);
}

/** Throw a TypeError/RangeError naming the first bad option. */
function validateOptions(o: FileServerOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('The "options" argument must be an object');
  if (typeof o.root !== 'string' || o.root === '') throw new TypeError('The "root" option must be a non-empty string');
  if (o.host !== undefined && typeof o.host !== 'string') throw new TypeError('The "host" option must be a string');
  checkInt('port', o.port, 0, 65535);
  checkInt('headerTimeoutMs', o.headerTimeoutMs, 0, 2 ** 31 - 1);
  checkInt('sendTimeoutMs', o.sendTimeoutMs, 0, 2 ** 31 - 1);
  checkInt('maxHeaderBytes', o.maxHeaderBytes, 256, 1 << 20);
  checkInt('maxUriBytes', o.maxUriBytes, 16, 1 << 20);
  if (o.maxConnections !== Infinity) checkInt('maxConnections', o.maxConnections, 1, 2 ** 31 - 1);
  checkInt('zeroCopyMinBytes', o.zeroCopyMinBytes, 0, Number.MAX_SAFE_INTEGER);
  if (o.sndbuf !== undefined) checkInt('sndbuf', o.sndbuf, 4096, 1 << 30);
  checkInt('cache.maxEntries', o.cache?.maxEntries, 1, 1 << 20);
  checkInt('cache.revalidateMs', o.cache?.revalidateMs, 0, 2 ** 31 - 1);
  checkInt('cache.smallFileBytes', o.cache?.smallFileBytes, 0, 1 << 30);
}

/**
 * Create an HTTP/1.1 static file server for `options.root`. Nothing listens
 * until `listen()`. Throws a TypeError/RangeError naming a bad option, and
 * node's ENOENT/ENOTDIR-style error (or a TypeError) when root is not a directory.
 */
export function createFileServer(options: FileServerOptions): FileServer {
  validateOptions(options);
  const rootStat = statSync(options.root);
  if (!rootStat.isDirectory()) throw new TypeError(`The "root" option must be a directory: ${options.root}`);
  const realRoot = realpathSync(path.resolve(options.root));
  const transport = options.transport ?? loadTransport();
  if (options.sndbuf !== undefined && !transport.setSendBuffer) {
    throw new TypeError(`sndbuf: the ${transport.name} transport cannot set SO_SNDBUF (the runtime's transport can)`);
  }
  const fs = options.fileSystem ?? loadFileSystem();
  const cache = new FileCache(fs, realRoot, options.cache);
  const maxConnections = options.maxConnections ?? Infinity;
  const sndbuf = options.sndbuf;
  const sendFile = (options.zeroCopy ?? USE_FACADE_SENDFILE) ? transport.net.sendFile : undefined;
  const ctx = { realRoot, cache, fs, dotfiles: options.dotfiles ?? false, listings: options.listings ?? true };
  const connectionContext = {
    limits: { maxHeaderBytes: options.maxHeaderBytes ?? 8192, maxUriBytes: options.maxUriBytes ?? 4096 },
    headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
    sendTimeoutMs: options.sendTimeoutMs ?? 30_000,
    handle: (req: Parameters<typeof respond>[0]) => respond(req, ctx),
    sendFile,
    zeroCopyMinBytes: options.zeroCopyMinBytes ?? 128 * 1024,
    log: options.log,
  };
  const open = new Set<Connection>();
  const refused = new Set<SocketLike>();

  const onSocket = (socket: SocketLike): void => {
    if (open.size >= maxConnections) {
      const reply = statusReply(503, [['Retry-After', '1']], true);
      refused.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => refused.delete(socket));
      socket.end(serializeWhole(reply, false));
      socket.resume(); // read (and drop) the request so the client's FIN is seen
      lingerThenDestroy(socket);
      return;
    }
    if (sndbuf !== undefined) transport.setSendBuffer?.(socket, sndbuf);
    const c = new Connection(socket, connectionContext);
    open.add(c);
    socket.on('close', () => open.delete(c));
  };
  const server: ServerLike = transport.net.createServer({ allowHalfOpen: true }, onSocket);
  let bound: AddressInfo | null = null;

  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      for (const c of open) c.destroy();
      open.clear();
      for (const s of refused) s.destroy();
      refused.clear();
      cache.close();
      if (!bound) {
        resolve();
        return;
      }
      bound = null;
      server.close(() => resolve());
    });

  return {
    transport,
    fileSystem: fs,
    zeroCopy: sendFile !== undefined,
    get connections() {
      return open.size;
    },
    address: () => bound,
    listen: () =>
      new Promise<AddressInfo>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        const opts = { port: options.port ?? 8080, host: options.host ?? '127.0.0.1', ...(options.reusePort ? { reusePort: true } : {}) };
        server.listen(opts, () => {
          server.removeListener('error', onError);
          server.on('error', () => undefined);
          const a = server.address();
          if (!a || typeof a === 'string') {
            reject(new Error('listening on an unexpected address'));
            return;
          }
          bound = a;
          resolve(a);
        });
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
