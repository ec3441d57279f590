/**
 * A TCP server on the ring, shaped like node:net's Server. The listening
 * socket is set up with plain system calls (socket, setsockopt, bind,
 * listen); connections arrive through one multishot accept, re-armed
 * whenever the kernel ends it.
 */
import { EventEmitter } from 'node:events';
import type { Ring } from '../ring';
import { netRing } from './ring';
import '../ops-net';
import type { AcceptStream } from '../ops-net';
import { native } from '../native';
import { errorWithHostPort, resolve, validatePort, type Resolved } from './address';
import { Socket, type AddressInfo } from './socket';

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
}

/** Handler for accepted connections. */
export type ConnectionListener = (socket: Socket) => void;

/** A TCP server: events 'listening', 'connection', 'error', 'close'. */
export class Server extends EventEmitter {
  readonly #ring: Ring;
  readonly #options: ServerOptions;
  readonly #conns = new Set<Socket>();
  #fd = -1;
  #accept: AcceptStream | undefined;
  #address: AddressInfo | undefined;
  #closing = false;
  #fdClosed = true;
  /** Whether the server is accepting connections. */
  listening = false;
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
    if (listener) this.on('connection', listener);
  }

  /**
   * Starts listening: `listen(port?, host?, backlog?, cb?)` or
   * `listen({ port, host, backlog, reusePort, ipv6Only }, cb?)`. Errors
   * (EADDRINUSE, EACCES, ...) are emitted as 'error', shaped like node:net's.
   */
  listen(...args: unknown[]): this {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === 'function') cb = args.pop() as () => void;
    let opts: ListenOptions;
    if (typeof args[0] === 'object' && args[0] !== null) {
      opts = args[0] as ListenOptions;
    } else {
      opts = { port: args[0] as number | undefined };
      if (typeof args[1] === 'string') opts.host = args[1];
      else if (typeof args[1] === 'number') opts.backlog = args[1];
      if (typeof args[2] === 'number') opts.backlog = args[2];
    }
    const port = opts.port === undefined || opts.port === null ? 0 : validatePort(opts.port);
    if (this.listening || this.#fd >= 0) {
      const err = new Error('Listen method has been called more than once without closing.') as Error & { code: string };
      err.code = 'ERR_SERVER_ALREADY_LISTEN';
      throw err;
    }
    if (cb) this.once('listening', cb);
    this.#closing = false;
    void this.#listen(port, opts).catch((err: Error) => this.emit('error', err));
    return this;
  }

  async #listen(port: number, opts: ListenOptions): Promise<void> {
    const backlog = opts.backlog ?? 511;
    let targets: Resolved[];
    if (opts.host === undefined || opts.host === '') {
      targets = [await resolve('::', port), await resolve('0.0.0.0', port)];
    } else {
      targets = [await resolve(opts.host, port)];
    }
    let lastErr: Error | undefined;
    for (const t of targets) {
      let fd = -1;
      let step = 'socket';
      try {
        fd = native.socketSync(t.family === 6 ? K.AF_INET6! : K.AF_INET!, K.SOCK_STREAM!, 0);
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
        throw lastErr;
      }
      if (this.#closing) {
        native.closeFd(fd);
        return;
      }
      this.#fd = fd;
      this.#fdClosed = false;
      this.#address = native.getsockname(fd);
      this.listening = true;
      this.#accept = this.#ring.acceptMultishot(fd, (err, cfd) => this.#onAccept(err, cfd));
      this.emit('listening');
      return;
    }
    throw lastErr ?? new Error('listen failed');
  }

  #onAccept(err: Error | null, fd: number): void {
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
    socket.server = this;
    if (o.noDelay) socket.setNoDelay(true);
    if (o.keepAlive) socket.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    this.#conns.add(socket);
    socket.once('close', () => {
      this.#conns.delete(socket);
      this.#maybeClosed();
    });
    if (o.pauseOnConnect) socket.pause();
    else socket.read(0); // start reading, as node:net does
    this.emit('connection', socket);
  }

  /** The bound address: `{ address, family, port }`, or null when not listening. */
  address(): AddressInfo | null {
    return this.listening && this.#address ? { ...this.#address } : null;
  }

  /** Number of open connections. */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.#conns.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  /**
   * Stops accepting. Connections already open stay open; 'close' is emitted
   * once the listening socket is closed and every connection has closed.
   */
  close(cb?: (err?: Error) => void): this {
    if (cb) {
      if (!this.listening) {
        const err = new Error('Server is not running.') as Error & { code: string };
        err.code = 'ERR_SERVER_NOT_RUNNING';
        this.once('close', () => cb(err));
      } else {
        this.once('close', () => cb());
      }
    }
    if (this.#closing) return this;
    this.#closing = true;
    this.listening = false;
    const accept = this.#accept;
    const fd = this.#fd;
    this.#accept = undefined;
    if (accept) {
      accept.cancel();
      // Close the listening fd only after the kernel dropped its multishot accept.
      void accept.done.then(() => this.#closeListener(fd));
    } else {
      this.#closeListener(fd);
    }
    return this;
  }

  #closeListener(fd: number): void {
    if (fd >= 0) {
      try { native.closeFd(fd); } catch { /* already closed */ }
    }
    this.#fd = -1;
    this.#fdClosed = true;
    this.#maybeClosed();
  }

  #maybeClosed(): void {
    if (this.#closing && this.#fdClosed && this.#conns.size === 0) {
      this.#closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }

  /** Kept for API compatibility (see Socket.ref). */
  ref(): this {
    return this;
  }

  /** Kept for API compatibility (see Socket.ref). */
  unref(): this {
    return this;
  }

  /** Closes the server and waits for 'close'. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.listening && !this.#closing) return;
    await new Promise<void>((res) => this.close(() => res()));
  }
}
