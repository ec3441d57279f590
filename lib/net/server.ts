/**
 * A TCP server on the ring, shaped like node:net's Server. The listening
 * socket is set up with plain system calls (socket, setsockopt, bind,
 * listen); connections arrive through one multishot accept, re-armed
 * whenever the kernel ends it.
 *
 * Lifecycle as node:net (Node 20): without a host the socket is bound in the
 * listen() call itself; with one, after the lookup, which a close() or another
 * listen() in the meantime makes void. close() stops accepting at once;
 * 'close' follows once the listening socket is really closed (the kernel has
 * dropped the multishot accept, which holds the socket: until then the port
 * stays bound) and every connection has closed.
 */
import { EventEmitter } from 'node:events';
import type { Ring } from '../ring';
import { LoopRef, netRing } from './ring';
import '../ops-net';
import type { AcceptStream } from '../ops-net';
import { native } from '../native';
import { errorWithHostPort, literal, resolve, validatePort, type Resolved } from './address';
import { Socket, kLeaveNonBlocking, type AddressInfo } from './socket';
import { adoptFd } from '../owned-fds';
import * as fs from 'node:fs';
import { AF_UNIX, backlogOf, fileOf, isAbstract, isPipeName, unixSockaddr } from './unix';

const K = native.socketConstants;

/** Options for {@link Server}. */
export interface ServerOptions {
  /** Keep accepted sockets writable after their peer ended (default false). */
  allowHalfOpen?: boolean;
  /** Accepted sockets start paused. */
  pauseOnConnect?: boolean;
  /** Set TCP_NODELAY on accepted sockets. */
  noDelay?: boolean;
  /** Enable keep-alive on accepted sockets. */
  keepAlive?: boolean;
  /** Keep-alive idle time in ms. */
  keepAliveInitialDelay?: number;
  /** Ring to use (default: the thread's ring). */
  ring?: Ring;
}

/** Options for {@link Server.listen}. */
export interface ListenOptions {
  /** Port (0 or omitted: the kernel picks one). */
  port?: number;
  /** Address to bind (default '::' with IPv4 mapped, or '0.0.0.0' without IPv6). */
  host?: string;
  /** Listen backlog (default 511, as node:net). */
  backlog?: number;
  /** SO_REUSEPORT: several servers (processes, threads) share the port. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for an IPv6 host. */
  ipv6Only?: boolean;
  /**
   * Listen on a Unix domain socket at this path instead of a port (an
   * abstract name when it starts with '\0'). As node:net: the path must not
   * exist (EADDRINUSE), and close() removes it.
   */
  path?: string;
  /** Unix socket: make it readable by all users (adds r to its mode bits, as node:net). */
  readableAll?: boolean;
  /** Unix socket: make it writable by all users (adds w to its mode bits; connecting needs it). */
  writableAll?: boolean;
}

/** Handler for accepted connections. */
export type ConnectionListener = (socket: Socket) => void;

/** A TCP server: events 'listening', 'connection', 'error', 'close'. */
export class Server extends EventEmitter {
  readonly #ring: Ring;
  readonly #options: ServerOptions;
  readonly #conns = new Set<Socket>();
  /** The listening socket (node:net's handle), or -1. */
  #fd = -1;
  #accept: AcceptStream | undefined;
  #address: AddressInfo | undefined;
  /** The Unix socket path listened on, while listening on one. */
  #unixPath: string | undefined;
  /** The inode of the socket file this server bound (the addon's name for it), or -1. */
  #boundInode = -1;
  /** Bumped by listen() and close(): a listen() still resolving its host gives up when it changed. */
  #listenId = 0;
  /** Listening sockets close() let go of whose multishot accept the kernel has not dropped yet. */
  #releasing = 0;
  /** 'close' events due once those sockets are closed (one per drained close(), as node:net). */
  #owedCloses = 0;
  /** Listens waiting for those sockets to be closed (the port may be the same). */
  #afterRelease: (() => void)[] = [];
  /** ref()/unref() of the multishot accept. */
  readonly #loopRef: LoopRef;
  /** Refuse connections beyond this many (as node:net). */
  maxConnections: number | undefined;

  constructor(options?: ServerOptions | ConnectionListener, listener?: ConnectionListener) {
    super();
    if (typeof options === 'function') {
      listener = options;
      options = {};
    }
    this.#options = options ?? {};
    this.#ring = this.#options.ring ?? netRing();
    this.#loopRef = new LoopRef(this.#ring);
    if (listener) this.on('connection', listener);
  }

  /** Whether the server has a listening socket (from listen() until close()). */
  get listening(): boolean {
    return this.#fd >= 0;
  }

  /**
   * Starts listening: `listen(port?, host?, backlog?, cb?)` or
   * `listen({ port, host, backlog, reusePort, ipv6Only }, cb?)`. Without a
   * host the socket is bound before this returns; with one, after the
   * lookup. Throws ERR_SERVER_ALREADY_LISTEN while a socket is listening
   * (a listen() whose lookup is still pending is replaced instead). Errors
   * (EADDRINUSE, EACCES, ...) are emitted as 'error', shaped like node:net's.
   */
  listen(...args: unknown[]): this {
    if (this.#fd >= 0) {
      const err = new Error('Listen method has been called more than once without closing.') as Error & { code: string };
      err.code = 'ERR_SERVER_ALREADY_LISTEN';
      throw err;
    }
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    let opts: ListenOptions;
    if (typeof args[0] === 'object' && args[0] !== null) {
      opts = args[0] as ListenOptions;
    } else if (isPipeName(args[0])) {
      opts = { path: args[0] }; // node:net: a first argument that is no port number is a path
      if (typeof args[1] === 'number') opts.backlog = args[1];
    } else {
      opts = { port: args[0] as number | undefined };
      if (typeof args[1] === 'string') opts.host = args[1];
      else if (typeof args[1] === 'number') opts.backlog = args[1];
      if (typeof args[2] === 'number') opts.backlog = args[2];
    }
    // node:net's rules for the options: any `port` key means TCP (a string port is validated as a
    // port, never taken as a path); otherwise `path` must name a Unix socket.
    if ('path' in opts && !('port' in opts)) {
      const path = opts.path;
      if (!isPipeName(path)) {
        const err = new TypeError(`The argument 'options' is invalid: options.path must be a socket path, got ` +
          `${JSON.stringify(path)}`) as TypeError & { code: string };
        err.code = 'ERR_INVALID_ARG_VALUE';
        throw err;
      }
      if ((opts.readableAll || opts.writableAll) && isAbstract(path)) {
        const err = new TypeError('readableAll and writableAll set the mode of a socket file; an abstract name ' +
          `(${JSON.stringify(path)}) has none`) as TypeError & { code: string };
        err.code = 'ERR_INVALID_ARG_VALUE';
        throw err;
      }
      if (cb) this.once('listening', cb);
      ++this.#listenId;
      this.#bindUnix(path, opts);
      return this;
    }
    const port = opts.port === undefined || opts.port === null ? 0 : validatePort(opts.port);
    if (cb) this.once('listening', cb);
    const id = ++this.#listenId;
    if ((opts.host === undefined || opts.host === '') && this.#releasing === 0) {
      this.#bind(anyAddress(port), port, opts);
    } else {
      void this.#listenLater(id, port, opts);
    }
    return this;
  }

  /** Resolves the host, waits for sockets close() let go of, then binds unless listen()/close() came since. */
  async #listenLater(id: number, port: number, opts: ListenOptions): Promise<void> {
    let targets: Resolved[];
    try {
      targets = opts.host === undefined || opts.host === '' ? anyAddress(port) : [await resolve(opts.host, port)];
    } catch (err) {
      if (id === this.#listenId) this.emit('error', err);
      return;
    }
    if (this.#releasing > 0) await new Promise<void>((r) => this.#afterRelease.push(r));
    if (id === this.#listenId) this.#bind(targets, port, opts);
  }

  /** Binds and listens on the first target that works; 'listening' or 'error' follows on the next tick. */
  #bind(targets: Resolved[], port: number, opts: ListenOptions): void {
    const backlog = backlogOf(opts.backlog);
    let lastErr: Error | undefined;
    for (const t of targets) {
      let fd = -1;
      let step = 'socket';
      try {
        fd = adoptFd(native.socketSync(t.family === 6 ? K.AF_INET6! : K.AF_INET!, K.SOCK_STREAM!, 0));
        step = 'listen';
        native.setsockopt(fd, K.SOL_SOCKET!, K.SO_REUSEADDR!, 1);
        if (opts.reusePort) native.setsockopt(fd, K.SOL_SOCKET!, K.SO_REUSEPORT!, 1);
        if (t.family === 6) {
          const v6only = opts.ipv6Only === true ? 1 : opts.host === undefined || opts.host === '' ? 0 : undefined;
          if (v6only !== undefined) native.setsockopt(fd, K.IPPROTO_IPV6!, K.IPV6_V6ONLY!, v6only);
        }
        native.bind(fd, t.sockaddr);
        native.listen(fd, backlog);
      } catch (e) {
        if (fd >= 0) native.closeFd(fd);
        const err = e as NodeJS.ErrnoException;
        lastErr = typeof err.errno === 'number' ? errorWithHostPort(-err.errno, step, t.address, port, true) : err;
        // No IPv6 on this machine: try IPv4.
        if (err.errno === -97 /* EAFNOSUPPORT */ || err.errno === -99 /* EADDRNOTAVAIL */) continue;
        break;
      }
      const started = this.#accepting(fd, undefined);
      if (started === undefined) return;
      lastErr = started;
      break;
    }
    const err = lastErr ?? new Error('listen failed');
    process.nextTick(() => this.emit('error', err));
  }

  /** Binds and listens on the Unix socket `path`; 'listening' or 'error' follows on the next tick. */
  #bindUnix(path: string, opts: ListenOptions): void {
    const sa = unixSockaddr(path, 'listen');
    if (sa instanceof Error) {
      process.nextTick(() => this.emit('error', sa));
      return;
    }
    let fd = -1;
    let step = 'socket';
    let owned = false;
    try {
      fd = adoptFd(native.socketSync(AF_UNIX, K.SOCK_STREAM!, 0));
      step = 'listen'; // node:net names bind failures of a Unix socket 'listen' too
      native.bind(fd, sa);
      this.#ownPath(path, true);
      owned = true;
      native.listen(fd, backlogOf(opts.backlog));
      if (opts.readableAll || opts.writableAll) { // not abstract: listen() refused that
        step = 'chmod'; // node:fs's own error, as it is
        const file = fileOf(path)!;
        const mode = fs.statSync(file).mode & 0o7777;
        fs.chmodSync(file, mode | (opts.readableAll ? 0o444 : 0) | (opts.writableAll ? 0o222 : 0));
      }
    } catch (e) {
      if (fd >= 0) native.closeFd(fd);
      if (owned) this.#ownPath(path, false, true); // the file bind made: a retry must find the path free
      const err = e as NodeJS.ErrnoException;
      const out = step !== 'chmod' && typeof err.errno === 'number'
        ? errorWithHostPort(-err.errno, step, path, undefined, true) : err;
      if (out.code === 'EADDRINUSE') out.message += ' (remove the socket file if no server uses it any more)';
      process.nextTick(() => this.emit('error', out));
      return;
    }
    const failed = this.#accepting(fd, path);
    if (failed !== undefined) {
      this.#ownPath(path, false, true);
      process.nextTick(() => this.emit('error', failed));
    }
  }

  /**
   * The socket file at `path` (none for an abstract name) is this server's
   * (`own`): it is removed when the thread's environment ends (a terminated
   * worker runs no close()), as node:net's is. `!own` stops that, and with
   * `unlink` removes the file now.
   */
  #ownPath(path: string, own: boolean, unlink = false): void {
    const file = fileOf(path);
    if (file === undefined) return;
    // The addon notes the file's inode: only that file is ever removed, not one another server bound since.
    if (own) {
      this.#boundInode = native.ownSocketPath(file, true);
    } else {
      native.ownSocketPath(file, false, this.#boundInode, unlink);
      this.#boundInode = -1;
    }
  }

  /**
   * Arms the multishot accept on the listening socket `fd` (a Unix socket
   * when `path` is given) and emits 'listening' on the next tick. Returns the
   * error, with `fd` closed, when the ring is gone.
   */
  #accepting(fd: number, path: string | undefined): Error | undefined {
    let accept: AcceptStream;
    try {
      accept = this.#ring.acceptMultishot(fd, (err, cfd) => this.#onAccept(accept, err, cfd));
    } catch (e) {
      // The ring is gone (destroyed): no socket is kept and the server stays closed.
      native.closeFd(fd);
      return e as Error;
    }
    this.#fd = fd;
    this.#unixPath = path;
    this.#address = path === undefined ? native.getsockname(fd) : undefined;
    this.#accept = accept;
    this.#loopRef.sync(true);
    process.nextTick(() => {
      if (this.#accept === accept) this.emit('listening'); // not when close() came first
    });
    return undefined;
  }

  #onAccept(from: AcceptStream, err: Error | null, fd: number): void {
    // A multishot accept close() has cancelled: its errors are nobody's concern (and the ring
    // closes what it accepts after the cancel).
    if (from !== this.#accept) return;
    if (err) {
      this.emit('error', err);
      return;
    }
    if (this.maxConnections !== undefined && this.#conns.size >= this.maxConnections) {
      native.closeFd(fd);
      this.emit('drop', { localAddress: this.#address?.address, localPort: this.#address?.port });
      return;
    }
    const o = this.#options;
    const socket = new Socket({ fd, ring: this.#ring, allowHalfOpen: o.allowHalfOpen });
    socket[kLeaveNonBlocking] = true; // made here: sendFile may leave it O_NONBLOCK
    socket.server = this;
    if (o.noDelay) socket.setNoDelay(true);
    if (o.keepAlive) socket.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    this.#conns.add(socket);
    socket.once('close', () => {
      this.#conns.delete(socket);
      this.#emitCloseIfDrained();
    });
    if (o.pauseOnConnect) socket.pause();
    else socket.read(0); // start reading, as node:net does
    this.emit('connection', socket);
  }

  /**
   * The bound address: `{ address, family, port }`, the path of a Unix
   * socket (as node:net), or null when not listening.
   */
  address(): AddressInfo | string | null {
    if (this.#fd >= 0 && this.#unixPath !== undefined) return this.#unixPath;
    return this.#fd >= 0 && this.#address ? { ...this.#address } : null;
  }

  /** Number of open connections. */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.#conns.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  /**
   * Stops accepting at once (a listen() still resolving its host is
   * dropped). Connections already open stay open; 'close' is emitted once
   * the listening socket is closed and every connection has closed. As
   * node:net, `cb` gets ERR_SERVER_NOT_RUNNING when there was no listening
   * socket, and each close() that finds no connection open emits a 'close'.
   */
  close(cb?: (err?: Error) => void): this {
    this.#listenId++;
    if (cb) {
      if (this.#fd < 0) {
        const err = new Error('Server is not running.') as Error & { code: string };
        err.code = 'ERR_SERVER_NOT_RUNNING';
        this.once('close', () => cb(err));
      } else {
        this.once('close', () => cb());
      }
    }
    if (this.#fd >= 0) this.#release();
    this.#emitCloseIfDrained();
    return this;
  }

  /**
   * Lets go of the listening socket: cancels the multishot accept and closes
   * the fd once the kernel has dropped it (closing earlier would leave the
   * socket bound while the accept holds it, or hand a reused number to the
   * accept). On Linux 6.0+ the cancel is synchronous and the fd closes here;
   * before, when the cancel's completion arrives. 'close' events owed and
   * listens waiting for the port follow that completion either way.
   */
  #release(): void {
    const fd = this.#fd;
    const accept = this.#accept!;
    this.#fd = -1;
    this.#accept = undefined;
    this.#address = undefined;
    const path = this.#unixPath;
    this.#unixPath = undefined;
    // As node:net: the socket file goes with the server (a new server can bind the path at once).
    if (path !== undefined) this.#ownPath(path, false, true);
    this.#loopRef.sync(false);
    this.#releasing++;
    accept.cancel();
    // Linux 6.0+: cancel the accept synchronously, then close now, so the port is free when
    // close() returns (as with node:net). Else the fd is closed once the kernel dropped the accept.
    let closed = false;
    try {
      closed = this.#ring.handle.cancelFdSync(fd) >= 0;
    } catch { /* the ring is gone: the kernel dropped everything with it */ }
    if (closed) native.closeFd(fd);
    void accept.done.then(() => {
      if (!closed) {
        try { native.closeFd(fd); } catch { /* already closed */ }
      }
      if (--this.#releasing > 0) return;
      for (; this.#owedCloses > 0; this.#owedCloses--) process.nextTick(() => this.emit('close'));
      const waiting = this.#afterRelease;
      this.#afterRelease = [];
      for (const resume of waiting) resume();
    });
  }

  /** node:net's _emitCloseIfDrained: 'close' when nothing listens and no connection is open. */
  #emitCloseIfDrained(): void {
    if (this.#fd >= 0 || this.#conns.size > 0) return;
    if (this.#releasing > 0) this.#owedCloses++;
    else process.nextTick(() => this.emit('close'));
  }

  /** Lets the listening socket keep the event loop alive again (the default). */
  ref(): this {
    this.#loopRef.set(false, this.#fd >= 0);
    return this;
  }

  /**
   * As node:net: the listening socket alone no longer keeps the event loop
   * alive (open connections and other work still do). Works before listen().
   */
  unref(): this {
    this.#loopRef.set(true, this.#fd >= 0);
    return this;
  }

  /** Closes the server and waits for 'close' (nothing to do when it is not listening, as node:net). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#fd < 0) return;
    await new Promise<void>((res, rej) => this.close((err) => (err ? rej(err) : res())));
  }
}

/** The unspecified addresses tried without a host: '::' (IPv4 mapped), then '0.0.0.0'. */
function anyAddress(port: number): Resolved[] {
  return [literal('::', port), literal('0.0.0.0', port)];
}
