/**
 * A TCP connection on the ring, shaped like node:net's Socket: a
 * stream.Duplex with backpressure, so pipe(), pipeline(), async iteration
 * and node:http (`server.emit('connection', socket)`) work on it.
 *
 * Reading: one multishot recv per connection, with buffers from the ring's
 * shared provided-buffer group. Each chunk is copied out of the group's
 * buffer into its own Buffer and the group buffer is recycled at once, so a
 * slow consumer never starves the other connections of receive buffers
 * (the copy costs far less than re-arming recvs for every connection).
 * When the stream's buffer is full (push() returns false) the multishot is
 * cancelled; _read() re-arms it. Buffered bytes therefore stay below
 * readableHighWaterMark plus what was already in flight.
 *
 * Writing: each write is one IORING_OP_SEND; corked or queued writes go out
 * together as one IORING_OP_SENDMSG. Short sends are continued.
 *
 * Closing: shutdowns are plain shutdown(2) calls (see #shutdown), so nothing
 * can address the fd number after the close; a transfer that borrowed the fd
 * (sendFile) delays the close until it returns it.
 */
import { Duplex } from 'node:stream';
import { type Ring, type StreamOp } from '../ring';
import { LoopRef, netRing } from './ring';
import '../ops-net';
import '../ops-poll';
import { PollEvent } from '../ops-poll';
import { native, type NativeSockAddr } from '../native';
import { bufferGroup, type BufferGroup } from './bufgroup';
import { connError, errorWithHostPort, resolve, validatePort } from './address';
import { isIP } from 'node:net';
import { ECANCELED } from '../errors';
import * as dns from 'node:dns';
import { adoptFd } from '../owned-fds';
import { AF_UNIX, connectUnix, isPipeName, unixPathOf, unixSockaddr } from './unix';

const K = native.socketConstants;

/**
 * Borrowing the fd for operations outside the stream (sendFile): while
 * borrowed, destroy() shuts the connection down at once but closes the fd
 * only after the last borrower returned it, so the number cannot be reused
 * under a running transfer. @internal
 */
export const kBorrowFd = Symbol('borrowFd');
/** @internal */
export const kReturnFd = Symbol('returnFd');
/**
 * Whether sendFile may leave O_NONBLOCK set after a 'ready' transfer, which
 * saves an fcntl(2) pair per response on a keep-alive connection: true for a
 * socket the facade made itself (accepted or connected; node:net's are
 * non-blocking too), false for an fd given in `options.fd`, which gets its
 * mode back. The socket's own writes wait for room even when the kernel
 * answers EAGAIN. @internal
 */
export const kLeaveNonBlocking = Symbol('leaveNonBlocking');
const ENOBUFS = 105;
const EAGAIN = 11;
const ENOTCONN = 107;
const ECONNREFUSED = 111;
const ECONNRESET = 104;
/** getsockopt TCP_INFO; the first byte of struct tcp_info is tcpi_state. */
const TCP_INFO = 11;
/** tcpi_state of a connection that is gone (reset, or fully closed). */
const TCP_CLOSE = 7;

/** Options for {@link Socket}. */
export interface SocketOptions {
  /** Keep the writable side open after the peer ended (default false, as node:net). */
  allowHalfOpen?: boolean;
  /** Readable buffer bound in bytes (default 64 KiB). */
  readableHighWaterMark?: number;
  /** Writable buffer bound in bytes (default 64 KiB). */
  writableHighWaterMark?: number;
  /** Ring to use (default: the thread's ring). */
  ring?: Ring;
  /** Adopt an already connected socket fd (what the server does for accepted connections). */
  fd?: number;
}

/** Options for {@link Socket.connect}. */
export interface ConnectOptions {
  /** Port to connect to (0-65535); required unless `path` names a Unix socket. */
  port?: number;
  /** Host name or IP literal (default 'localhost'). */
  host?: string;
  /** Disable Nagle's algorithm right after connecting. */
  noDelay?: boolean;
  /** Enable TCP keep-alive right after connecting. */
  keepAlive?: boolean;
  /** Keep-alive idle time in milliseconds. */
  keepAliveInitialDelay?: number;
  /** Local IP address to connect from (bound before connecting). */
  localAddress?: string;
  /** Local port to connect from (bound before connecting; default: any). */
  localPort?: number;
  /**
   * Connect to the Unix domain socket at this path instead of a port (an
   * abstract name when it starts with '\0'); null or '' means none.
   */
  path?: string | null;
}

/** An address as {@link Socket.address} and server.address() report it. */
export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** Promise-level reads and writes, for code that prefers `await` to events. */
export interface SocketPromises {
  /** The next chunk of data, or null at end of stream. */
  read(): Promise<Buffer | null>;
  /** Writes `data` and resolves once the kernel has taken all of it. */
  write(data: string | Uint8Array): Promise<void>;
}

/**
 * A TCP socket on io_uring with node:net's Socket API: events `connect`,
 * `ready`, `data`, `end`, `close` (hadError), `error`, `timeout`, `drain`.
 */
export class Socket extends Duplex {
  readonly #ring: Ring;
  readonly #group: BufferGroup;
  #fd = -1;
  #recv: StreamOp | undefined;
  /** ref()/unref() of the multishot recv. */
  readonly #loopRef: LoopRef;
  #recvStopping = false;
  #wantRead = false;
  #readEnded = false;
  /** shutdown(SHUT_WR) was done (our FIN is out). */
  #wrShut = false;
  #timer: NodeJS.Timeout | undefined;
  #timeoutMs = 0;
  #peer: NativeSockAddr | undefined;
  #local: NativeSockAddr | undefined;
  #noDelay: boolean | undefined;
  #keepAlive: [boolean, number] | undefined;
  #bytesWritten = 0;
  #promises: SocketPromises | undefined;
  #borrowers = 0;
  /** Writes (#sendAll) in flight: a destroy shuts the socket down so their sends end. */
  #sending = 0;
  /** @internal See {@link kLeaveNonBlocking}. */
  [kLeaveNonBlocking] = false;
  #deferredClose: (() => void) | undefined;
  /** Cancels the connect in flight (destroy() while connecting, as node:net stops at once). */
  #connectAbort: AbortController | undefined;
  /** Whether a connect() is in progress. */
  connecting = false;
  /** Bytes received. */
  bytesRead = 0;
  /** The server that accepted this connection, if any. */
  server: unknown = null;

  constructor(options: SocketOptions = {}) {
    super({
      allowHalfOpen: options.allowHalfOpen === true,
      readableHighWaterMark: options.readableHighWaterMark ?? 64 * 1024,
      writableHighWaterMark: options.writableHighWaterMark ?? 64 * 1024,
      emitClose: false,
      autoDestroy: true,
    });
    this.#ring = options.ring ?? netRing();
    this.#loopRef = new LoopRef(this.#ring);
    this.#group = bufferGroup(this.#ring);
    if (options.fd !== undefined) this.#fd = adoptFd(options.fd);
  }

  /**
   * The file descriptor, or -1 before connecting and after closing. A socket
   * the facade accepted or connected starts blocking and is left O_NONBLOCK by
   * its first {@link sendFile} (node:net's sockets are always non-blocking), so
   * system calls made on it directly should expect EAGAIN.
   */
  get fd(): number {
    return this.#fd;
  }

  /** Bytes sent (including bytes still queued, as node:net counts). */
  get bytesWritten(): number {
    return this.#bytesWritten + this.writableLength;
  }

  /** 'opening' while connecting, then 'open' / 'readOnly' / 'writeOnly' / 'closed'. */
  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Peer IP address. */
  get remoteAddress(): string | undefined {
    return this.#peerName()?.address;
  }

  /** Peer port. */
  get remotePort(): number | undefined {
    return this.#peerName()?.port;
  }

  /** Peer address family, 'IPv4' or 'IPv6'. */
  get remoteFamily(): string | undefined {
    return this.#peerName()?.family;
  }

  /** Local IP address. */
  get localAddress(): string | undefined {
    return this.#localName()?.address;
  }

  /** Local port. */
  get localPort(): number | undefined {
    return this.#localName()?.port;
  }

  /** Local address family. */
  get localFamily(): string | undefined {
    return this.#localName()?.family;
  }

  /** The local address, as node:net's socket.address(). */
  address(): AddressInfo | Record<string, never> {
    const l = this.#localName();
    return l ? { address: l.address, family: l.family, port: l.port } : {};
  }

  /** Promise-level `read()` and `write()`. */
  get promises(): SocketPromises {
    if (!this.#promises) {
      const self = this;
      this.#promises = {
        read: () => self.#readChunk(),
        write: (data) => new Promise<void>((res, rej) => {
          self.write(data, (err) => (err ? rej(err) : res()));
        }),
      };
    }
    return this.#promises;
  }

  /**
   * Connects to `port` on `host` (default 'localhost'; every address the
   * name resolves to is tried in order), or to the Unix socket `path`
   * (`connect(path, cb?)` or `connect({ path })`). Emits 'connect' or 'error'.
   */
  connect(port: number | string | ConnectOptions, host?: string | (() => void), cb?: () => void): this {
    let opts: ConnectOptions;
    if (typeof port === 'object' && port !== null) {
      opts = port;
      if (typeof host === 'function') cb = host;
    } else if (isPipeName(port)) {
      opts = { path: port }; // node:net: a string that is no port number is a path
      if (typeof host === 'function') cb = host;
    } else {
      if (typeof host === 'function') {
        cb = host;
        host = undefined;
      }
      opts = { port: port as number, host: host as string | undefined };
    }
    if (this.connecting) {
      // As node:net: a second connect() while connecting adds its callback to the first.
      if (cb) this.once('connect', cb);
      return this;
    }
    if (this.destroyed || this.#fd >= 0) {
      const err = new Error(this.destroyed
        ? 'socket.connect(): this socket was closed, and a closed Socket cannot connect again here ' +
          '(node:net reconnects it): create a new Socket'
        : 'socket.connect(): this socket is already connected') as NodeJS.ErrnoException;
      err.code = this.destroyed ? 'ERR_SOCKET_CLOSED' : 'ERR_SOCKET_CONNECTED';
      throw err;
    }
    const path = unixPathOf(opts.path);
    if (path !== undefined) {
      if (cb) this.once('connect', cb);
      this.connecting = true;
      void this.#connectUnix(path);
      return this;
    }
    const p = validatePort(opts.port);
    const h = opts.host ?? 'localhost';
    const local = localEndpoint(opts);
    if (cb) this.once('connect', cb);
    if (opts.noDelay) this.#noDelay = true;
    if (opts.keepAlive) this.#keepAlive = [true, opts.keepAliveInitialDelay ?? 0];
    this.connecting = true;
    void this.#connect(p, h, local);
    return this;
  }

  async #connect(port: number, host: string, local: { address?: string; port: number } | undefined): Promise<void> {
    let addrs: string[];
    try {
      addrs = isIP(host) ? [host] : (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
    } catch (e) {
      this.connecting = false;
      this.destroy(e as Error);
      return;
    }
    let lastErr: Error | undefined;
    for (const address of addrs) {
      if (this.destroyed) return;
      try {
        const r = await resolve(address, port);
        await this.#attempt(r.family === 6 ? K.AF_INET6! : K.AF_INET!, r.sockaddr,
          local ? (fd) => bindLocal(fd, r.family, local) : undefined);
        return;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        lastErr = typeof err.errno === 'number' && err.syscall === 'connect'
          ? errorWithHostPort(-err.errno, 'connect', address, port) : err;
        if (err.errno !== -ECONNREFUSED) break;
      }
    }
    this.connecting = false;
    if (!this.destroyed) this.destroy(lastErr);
  }

  /**
   * One connect: a new socket of `domain` (`prepare` runs on it first: a
   * local bind), connected to `sockaddr` (AF_UNIX: with unix.ts
   * `connectUnix`), then 'connect'. Throws the failure with the socket
   * closed; returns quietly when the Socket was destroyed meanwhile.
   */
  async #attempt(domain: number, sockaddr: Buffer, prepare?: (fd: number) => void): Promise<void> {
    let fd = -1;
    try {
      fd = adoptFd(await this.#ring.socket(domain, K.SOCK_STREAM!));
      if (this.destroyed) {
        native.closeFd(fd);
        return;
      }
      this.#fd = fd;
      this[kLeaveNonBlocking] = true;
      prepare?.(fd);
      this.#connectAbort = new AbortController();
      const signal = this.#connectAbort.signal;
      if (domain === AF_UNIX) await connectUnix(this.#ring, fd, sockaddr, signal, () => this.#fd === fd);
      else await this.#ring.connect(fd, sockaddr, { signal });
      this.#connectAbort = undefined;
      if (this.#fd !== fd) return; // destroyed meanwhile
      this.#connected();
    } catch (e) {
      if (fd >= 0 && this.#fd === fd) {
        this.#fd = -1;
        try { native.closeFd(fd); } catch { /* closed */ }
      }
      throw e;
    }
  }

  /** The connect succeeded (unless destroyed meanwhile): 'connect', 'ready', and reading starts. */
  #connected(): void {
    if (this.destroyed) return;
    this.connecting = false;
    this.#applyOptions();
    this.emit('connect');
    this.emit('ready');
    // Start reading at once, as node:net does: EOF and resets are noticed
    // even before anyone consumes data (buffering stops at the high-water mark).
    if (this.#wantRead) this.#arm();
    else this.read(0);
  }

  /** connect() to a Unix socket: errors are node:net's (`connect ENOENT /path`). */
  async #connectUnix(path: string): Promise<void> {
    const sa = unixSockaddr(path, 'connect');
    if (sa instanceof Error) {
      this.connecting = false;
      this.destroy(sa); // already node:net-shaped, with the length limit in its message
      return;
    }
    try {
      await this.#attempt(AF_UNIX, sa);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.connecting = false;
      if (!this.destroyed) {
        this.destroy(typeof err.errno === 'number' && err.syscall === 'connect'
          ? errorWithHostPort(-err.errno, 'connect', path, undefined) : err);
      }
    }
  }

  #applyOptions(): void {
    if (this.#noDelay !== undefined) this.setNoDelay(this.#noDelay);
    if (this.#keepAlive !== undefined) this.setKeepAlive(...this.#keepAlive);
  }

  /** Disables (true, the default) or enables Nagle's algorithm (TCP_NODELAY). */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.#fd >= 0 && !this.connecting) {
      try { native.setsockopt(this.#fd, K.IPPROTO_TCP!, K.TCP_NODELAY!, noDelay ? 1 : 0); } catch { /* closed */ }
    }
    return this;
  }

  /** Enables TCP keep-alive (SO_KEEPALIVE), with `initialDelay` ms of idle time first (TCP_KEEPIDLE). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = [enable, initialDelay];
    if (this.#fd >= 0 && !this.connecting) {
      try {
        native.setsockopt(this.#fd, K.SOL_SOCKET!, K.SO_KEEPALIVE!, enable ? 1 : 0);
        if (enable && initialDelay > 0) {
          native.setsockopt(this.#fd, K.IPPROTO_TCP!, K.TCP_KEEPIDLE!, Math.max(1, Math.floor(initialDelay / 1000)));
        }
      } catch { /* closed */ }
    }
    return this;
  }

  /**
   * Emits 'timeout' after `ms` of inactivity (no data read or written);
   * 0 disables it. As in node:net, the socket is not closed by the timeout.
   */
  setTimeout(ms: number, cb?: () => void): this {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`The value of "msecs" is out of range. Received ${String(ms)}`);
    }
    this.#timeoutMs = ms;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.destroyed) return this; // as node:net: no timer on a closed socket
    if (ms > 0) {
      this.#timer = setTimeout(() => this.emit('timeout'), ms);
      this.#timer.unref();
      if (cb) this.once('timeout', cb);
    } else if (cb) {
      this.removeListener('timeout', cb);
    }
    return this;
  }

  /** Idle timeout in ms (0: none). */
  get timeout(): number {
    return this.#timeoutMs;
  }

  /** Lets this socket's reading keep the event loop alive again (the default). */
  ref(): this {
    this.#loopRef.set(false, this.#recv !== undefined);
    return this;
  }

  /**
   * As node:net: waiting for data on this socket no longer keeps the event
   * loop alive. Writes and a connect in progress still do (node:net's write
   * requests do too).
   */
  unref(): this {
    this.#loopRef.set(true, this.#recv !== undefined);
    return this;
  }

  /** Ends the writable side and destroys the socket once everything was sent (node:net's destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** @internal Borrows the fd (or returns -1 when closed). Pair with kReturnFd. */
  [kBorrowFd](): number {
    if (this.#fd < 0) return -1;
    this.#borrowers++;
    return this.#fd;
  }

  /** @internal */
  [kReturnFd](): void {
    this.#borrowers--;
    this.#closeIfUnused();
  }

  /** Runs the close that _destroy deferred, once nothing uses the fd number any more. */
  #closeIfUnused(): void {
    if (this.#borrowers === 0 && this.#deferredClose) {
      const close = this.#deferredClose;
      this.#deferredClose = undefined;
      close();
    }
  }

  /**
   * shutdown(2) now, on this thread (native shutdownSync; it never blocks on
   * TCP). Not IORING_OP_SHUTDOWN: the kernel runs that in io-wq and looks the
   * fd number up late, so a close right behind it let a new socket that
   * reused the number receive the shutdown.
   */
  #shutdown(fd: number, how: number): Promise<void> {
    try {
      native.shutdownSync(fd, how);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // ------------------------------------------------------------------ reading

  override _read(): void {
    this.#wantRead = true;
    if (this.#fd < 0 || this.connecting) return;
    this.#arm();
  }

  #arm(): void {
    if (this.#recv !== undefined || this.#readEnded || this.destroyed || this.#fd < 0) return;
    this.#recvStopping = false;
    try {
      this.#recv = this.#ring.recvMultishot(this.#fd, this.#group, this.#onRecv);
      this.#loopRef.sync(this.#recv !== undefined);
    } catch (e) {
      this.destroy(e as Error);
    }
  }

  #stopRecv(): void {
    if (this.#recv !== undefined && !this.#recvStopping) {
      this.#recvStopping = true;
      this.#recv.cancel();
    }
  }

  readonly #onRecv = (res: number, bid: number, more: boolean): void => {
    if (res > 0 && bid >= 0) {
      const chunk = this.#group.copy(bid, 0, res);
      this.#group.recycle(bid);
      this.bytesRead += res;
      if (this.#timer) this.#timer.refresh();
      if (!this.destroyed && !this.#readEnded && !this.push(chunk)) {
        this.#wantRead = false;
        this.#stopRecv();
      }
    } else if (res === 0) {
      if (!this.#readEnded && !this.destroyed && this.#resetNotEof()) {
        this.destroy(connError(ECONNRESET, 'read'));
      } else if (!this.#readEnded && !this.destroyed) {
        this.#readEnded = true;
        this.push(null);
        this.read(0); // as node:net: 'end' fires even if nobody consumes, when nothing is buffered
      }
    } else if (res < 0 && res !== -ECANCELED && res !== -ENOBUFS) {
      if (!this.destroyed) this.destroy(connError(-res, 'read'));
    }
    if (!more) {
      this.#recv = undefined;
      this.#recvStopping = false;
      this.#loopRef.sync(this.#recv !== undefined);
      if (this.#wantRead && !this.#readEnded && !this.destroyed) {
        if (res === -ENOBUFS) setImmediate(() => this.#arm());
        else this.#arm();
      }
    }
  };

  /**
   * A recv that returns 0 is not always the peer's FIN: when a reset arrives
   * while a send is waiting, the send takes the socket's error (ECONNRESET)
   * and the recv sees only the closed connection. Before our own FIN a
   * clean end leaves the connection in CLOSE_WAIT; a reset leaves it CLOSED.
   */
  #resetNotEof(): boolean {
    // Only a send waiting when the reset came takes its error (else the recv gets it). Without one, CLOSE
    // after a recv of 0 is a clean FIN followed by a reset the peer sent later (e.g. data we wrote after
    // it closed): node:net reports 'end' there, and the bytes still buffered must not be dropped.
    if (this.#wrShut || this.#fd < 0 || this.writableLength === 0) return false;
    try {
      return (native.getsockopt(this.#fd, K.IPPROTO_TCP!, TCP_INFO) & 0xff) === TCP_CLOSE;
    } catch {
      return false;
    }
  }

  async #readChunk(): Promise<Buffer | null> {
    for (;;) {
      const c = this.read() as Buffer | null;
      if (c !== null) return c;
      if (this.readableEnded || this.destroyed) {
        const err = this.errored;
        if (err) throw err;
        return null;
      }
      await new Promise<void>((res) => {
        const done = (): void => {
          this.off('readable', done);
          this.off('end', done);
          this.off('close', done);
          res();
        };
        this.on('readable', done);
        this.on('end', done);
        this.on('close', done);
      });
    }
  }

  // ------------------------------------------------------------------ writing

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const bufs = new Array<Buffer>(chunks.length);
    for (let i = 0; i < chunks.length; i++) bufs[i] = chunks[i]!.chunk;
    this.#send(bufs, cb);
  }

  #send(bufs: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      const onConnect = (): void => {
        this.off('close', onClose);
        this.#send(bufs, cb);
      };
      const onClose = (): void => {
        this.off('connect', onConnect);
        cb(connError(ENOTCONN, 'write')); // the connect failed: the write must still settle
      };
      this.once('connect', onConnect);
      this.once('close', onClose);
      return;
    }
    if (this.#fd < 0) {
      cb(connError(ENOTCONN, 'write'));
      return;
    }
    this.#sending++;
    void this.#sendAll(bufs).then(() => {
      this.#sending--;
      cb();
    }, (e: Error) => {
      this.#sending--;
      cb(e);
    });
  }

  async #sendAll(bufs: Buffer[]): Promise<void> {
    const fd = this.#fd;
    while (bufs.length > 0 && bufs[0]!.length === 0) bufs.shift();
    while (bufs.length > 0) {
      let n: number;
      try {
        n = bufs.length === 1
          ? await this.#ring.send(fd, bufs[0]!, 0, bufs[0]!.length)
          : await this.#ring.sendmsg(fd, bufs.length > 1024 ? bufs.slice(0, 1024) : bufs);
      } catch (e) {
        if (this.#fd !== fd) return; // destroyed under the write (its shutdown ended the send): as below
        const err = e as NodeJS.ErrnoException;
        if (err.errno !== -EAGAIN) throw typeof err.errno === 'number' ? connError(-err.errno, 'write') : err;
        // On an O_NONBLOCK socket (sendFile leaves it so) a SENDMSG that the kernel hands to
        // io-wq answers EAGAIN instead of waiting (how often it goes there depends on the
        // kernel): wait for room.
        await this.#ring.poll(fd, PollEvent.OUT);
        if (this.#fd !== fd) return; // destroyed while waiting
        continue;
      }
      this.#bytesWritten += n;
      if (this.#timer) this.#timer.refresh();
      // Destroyed while the send ran: the fd is closed (or about to be) and its
      // number may already name another socket. Stop; node:net calls the write
      // callback without an error for a socket destroyed under a write.
      if (this.#fd !== fd) return;
      // Drop what was sent, and empty chunks (http ends responses with one).
      while (bufs.length > 0 && (n > 0 || bufs[0]!.length === 0)) {
        const b = bufs[0]!;
        if (n >= b.length) {
          n -= b.length;
          bufs.shift();
        } else {
          bufs[0] = b.subarray(n);
          n = 0;
        }
      }
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.once('connect', () => this._final(cb));
      return;
    }
    if (this.#fd < 0) {
      cb();
      return;
    }
    this.#wrShut = true;
    this.#shutdown(this.#fd, K.SHUT_WR!).then(() => cb(), (e: NodeJS.ErrnoException) => {
      cb(e.errno === -ENOTCONN ? null : connError(-(e.errno ?? 0), 'shutdown'));
    });
  }

  // ------------------------------------------------------------------ teardown

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.connecting = false;
    this.#connectAbort?.abort(); // a pending IORING_OP_CONNECT would keep the socket alive
    this.#connectAbort = undefined;
    this.#stopRecv();
    const fd = this.#fd;
    this.#fd = -1;
    const hadError = err !== null && err !== undefined;
    cb(err);
    const emitClose = (): void => {
      this.emit('close', hadError);
    };
    if (fd < 0) {
      setImmediate(emitClose);
      return;
    }
    // Cache the names for code that asks after close (as node:net does).
    try { this.#peerName(fd); this.#localName(fd); } catch { /* not connected */ }
    const closeNow = (): void => {
      let closing: Promise<void>;
      try {
        closing = this.#ring.close(fd);
      } catch {
        try { native.closeFd(fd); } catch { /* already closed */ }
        closing = Promise.resolve();
      }
      closing.then(emitClose, emitClose);
    };
    if (this.#sending > 0 || this.#borrowers > 0) {
      // Work in the kernel holds the socket open past close(2): a send waiting for room goes
      // on as the peer reads (forever, if it never does), a transfer (sendFile) keeps
      // splicing. Shutting down ends it now, as node:net's close does: bytes already queued
      // still go out, then FIN.
      this.#shutdown(fd, K.SHUT_RDWR!).catch(() => undefined);
    }
    // A transfer still holds the fd number: it is closed when the transfer returns it.
    if (this.#borrowers > 0) this.#deferredClose = closeNow;
    else closeNow();
  }

  #peerName(fd = this.#fd): NativeSockAddr | undefined {
    if (this.#peer === undefined && fd >= 0 && !this.connecting) {
      try { this.#peer = native.getpeername(fd); } catch { /* not connected */ }
    }
    return this.#peer;
  }

  #localName(fd = this.#fd): NativeSockAddr | undefined {
    if (this.#local === undefined && fd >= 0) {
      try { this.#local = native.getsockname(fd); } catch { /* closed */ }
    }
    return this.#local;
  }
}

/** `localAddress`/`localPort` of connect(), checked; undefined when neither is given. */
function localEndpoint(opts: ConnectOptions): { address?: string; port: number } | undefined {
  if (opts.localAddress === undefined && opts.localPort === undefined) return undefined;
  if (opts.localAddress !== undefined && !isIP(opts.localAddress)) {
    const err = new TypeError(`Invalid IP address: ${String(opts.localAddress)} (options.localAddress must be an IP literal)`) as
      TypeError & { code: string };
    err.code = 'ERR_INVALID_IP_ADDRESS';
    throw err;
  }
  const port = opts.localPort === undefined ? 0 : validatePort(opts.localPort, 'options.localPort');
  return { address: opts.localAddress, port };
}

/**
 * bind(2) before connecting, so the connection leaves from `local` (the
 * wildcard of the remote's family when only a port is given). Throws
 * Node-shaped errors naming bind and the local endpoint.
 */
function bindLocal(fd: number, family: number, local: { address?: string; port: number }): void {
  const address = local.address ?? (family === 6 ? '::' : '0.0.0.0');
  const sa = native.encodeSockaddr(address, local.port);
  try {
    if (!sa) throw Object.assign(new Error('bad local address'), { errno: -22 });
    native.bind(fd, sa);
  } catch (e) {
    throw errorWithHostPort(-((e as NodeJS.ErrnoException).errno ?? -22), 'bind', address, local.port);
  }
}
