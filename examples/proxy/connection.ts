/**
 * One proxied connection: connect upstream, pump both directions, propagate
 * half-closes, and close both sockets when both directions are done, when
 * either fails, or when the connection has been idle too long.
 */
import type { Ring } from '../../lib/ring';
import '../../lib/ops-net';
import type { PipePool } from '../../lib/pipes';
import { native } from '../../lib/native';
import { pump, type PumpResult } from './splice-pump';
import { readyPump } from './ready-pump';
import { relayPump, type RelayDirection } from './relay-pump';
import type { PumpKind } from './proxy';
import { adoptFd } from '../../lib/owned-fds';
import { uringError } from '../../lib/errors';
import type { StreamOp } from '../../lib/ring';
import { watchReset } from './reset-watch';
import { AF_UNIX, connectUnix } from '../../lib/net/unix';

const K = native.socketConstants;

/** Where a connection's life is reported. */
export type ProxyLog = (message: string) => void;

/** Bytes moved by a proxy, in total and by splice (never in user space). */
export interface ProxyTotals {
  bytes: number;
  splicedBytes: number;
}

/** Where a connection's upstream socket connects: its address family, sockaddr and a name for the log. */
export interface UpstreamTarget {
  /** Address family for socket(2): AF_INET, AF_INET6 or AF_UNIX. */
  domain: number;
  /** The encoded address to connect to. */
  sockaddr: Buffer;
  /** How the log names it: `host:port` or `unix:PATH`. */
  label: string;
}

/** A client connection and its upstream twin. */
export class ProxyConnection {
  #lastActive = Date.now();
  /** Relay directions (pump 'relay'): bytes move without JavaScript, so activity is read from them. */
  #relays: RelayDirection[] = [];
  #relayBytes = 0;
  #upFd = -1;
  #closing = false;
  /** Set once the fds are being closed: nothing may address them by number after that. */
  #fdsClosed = false;
  /** Aborts the upstream connect while it waits (abort(): idle timeout, shutdown). */
  readonly #connecting = new AbortController();
  #done: Promise<void> | undefined;

  constructor(
    private readonly ring: Ring,
    readonly clientFd: number,
    private readonly upstream: UpstreamTarget,
    private readonly pool: PipePool,
    private readonly log: ProxyLog,
    private readonly totals: ProxyTotals,
    private readonly pumpKind: PumpKind = 'relay',
    private readonly pipeSize = 1 << 16,
  ) {}

  /** Milliseconds since the epoch of the last byte moved either way (as of this call, for relays). */
  get lastActive(): number {
    if (this.#relays.length > 0) {
      let b = 0;
      for (const r of this.#relays) b += r.bytes();
      if (b !== this.#relayBytes) {
        this.#relayBytes = b;
        this.#lastActive = Date.now();
      }
    }
    return this.#lastActive;
  }

  /** Runs the connection to its end; never rejects. */
  run(): Promise<void> {
    this.#done ??= this.#run();
    return this.#done;
  }

  /** Ends the connection now (idle timeout, shutdown): both sockets are shut down, which ends the pumps. */
  abort(reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.log(`closing fd ${this.clientFd}: ${reason}`);
    this.#connecting.abort(); // an upstream connect still waiting (a SYN unanswered) ends now
    this.#shutdownBoth();
  }

  async #run(): Promise<void> {
    const { ring, clientFd, upstream } = this;
    try {
      this.#upFd = adoptFd(await ring.socket(upstream.domain, K.SOCK_STREAM!, 0));
      // A Unix upstream whose backlog is full fails at once with EAGAIN (logged, the client closed).
      const signal = this.#connecting.signal;
      if (upstream.domain === AF_UNIX) await connectUnix(ring, this.#upFd, upstream.sockaddr, signal);
      else await ring.connect(this.#upFd, upstream.sockaddr, { signal });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!this.#closing) this.log(`upstream ${upstream.label} failed (${err.code ?? err.message}): closing client fd ${clientFd}`);
      await this.#closeAll();
      return;
    }
    if (this.#closing) {
      await this.#closeAll();
      return;
    }
    for (const fd of [clientFd, this.#upFd]) {
      try { native.setsockopt(fd, K.IPPROTO_TCP!, K.TCP_NODELAY!, 1); } catch { /* not fatal */ }
    }
    if (this.pumpKind === 'relay' || this.pumpKind === 'copy' || this.pumpKind === 'auto') {
      const mode = this.pumpKind === 'relay' ? 'splice' : this.pumpKind;
      const up = relayPump(ring, clientFd, this.#upFd, this.pipeSize, mode);
      const down = relayPump(ring, this.#upFd, clientFd, this.pipeSize, mode);
      this.#relays = [up, down];
      await Promise.all([up.done.then((r) => this.#ended('client -> upstream', r)),
        down.done.then((r) => this.#ended('upstream -> client', r))]);
      this.#relays = [];
      await this.#closeAll();
      return;
    }
    const touch = (): void => { this.#lastActive = Date.now(); };
    let move = pump;
    if (this.pumpKind === 'ready') {
      // Non-blocking splice(2) takes its blocking mode from the socket's file flags.
      try {
        for (const fd of [clientFd, this.#upFd]) native.setNonBlocking(fd, true);
      } catch (e) {
        this.log(`fcntl O_NONBLOCK failed (${(e as NodeJS.ErrnoException).code}): closing client fd ${clientFd}`);
        await this.#closeAll();
        return;
      }
      move = readyPump;
    }
    // The io-wq pump cannot watch its source while a splice waits in io-wq for the destination (the relay and
    // ready pumps do: relay.h, "Waiting for dst"), so a reset of either socket is watched here for it.
    const watches = this.pumpKind === 'io-wq'
      ? [this.#watchReset(clientFd, 'client'), this.#watchReset(this.#upFd, 'upstream')] : [];
    const up = move(ring, clientFd, this.#upFd, this.pool, touch).then((r) => this.#ended('client -> upstream', r));
    const down = move(ring, this.#upFd, clientFd, this.pool, touch).then((r) => this.#ended('upstream -> client', r));
    await Promise.all([up, down]);
    for (const w of watches) w.stop();
    await Promise.all(watches.map((w) => w.done));
    await this.#closeAll();
  }

  /** A direction finished: on end of stream shut the other side's write half; on error end both. */
  async #ended(direction: string, r: PumpResult): Promise<void> {
    this.totals.bytes += r.bytes;
    this.totals.splicedBytes += r.splicedBytes;
    const dst = direction === 'client -> upstream' ? this.#upFd : this.clientFd;
    if (r.reason === 'eof') {
      this.#shutdown(dst, K.SHUT_WR!);
      return;
    }
    if (!this.#closing) {
      this.#closing = true;
      const code = r.error?.code ?? r.error?.message;
      const [from, to] = direction.split(' -> ');
      const where = r.failedEnd === 'source' ? `reading from ${from}` : r.failedEnd === 'destination' ? `writing to ${to}` : 'locally';
      this.log(`${direction} failed after ${r.bytes} bytes, ${where} (${code}): closing both sides of fd ${this.clientFd}`);
      this.#shutdownBoth();
    }
  }

  /**
   * The reset watch (reset-watch.ts) on `fd` for the connection's life: a socket error there aborts the
   * connection, which wakes splices parked in io-wq on either socket. `done` settles once the poll left the kernel.
   */
  #watchReset(fd: number, side: string): { stop: () => void; done: Promise<void> } {
    let stopped = false;
    let op: StreamOp | undefined;
    const done = new Promise<void>((resolve) => {
      try {
        op = watchReset(this.ring, fd, (err) => {
          if (!stopped) this.abort(`${side} socket error (${uringError(err, 'poll').code})`);
        }, () => resolve()); // cancelled, or the kernel ended it: the pumps go on unwatched
      } catch {
        resolve(); // the ring is gone: the pumps fail on their own
      }
    });
    return { stop: () => { stopped = true; op?.cancel(); }, done };
  }

  #shutdownBoth(): void {
    // shutdown wakes splices blocked on either socket, so both pumps end.
    for (const fd of [this.clientFd, this.#upFd]) {
      if (fd >= 0) this.#shutdown(fd, K.SHUT_RDWR!);
    }
  }

  /**
   * shutdown(2) now (native shutdownSync: it never blocks on TCP); none once
   * the fds are being closed. Not IORING_OP_SHUTDOWN: io-wq looks the fd
   * number up late, so a shutdown could land on a new connection that reused
   * the number after our close. Never throws.
   */
  #shutdown(fd: number, how: number): void {
    if (this.#fdsClosed) return;
    try { native.shutdownSync(fd, how); } catch { /* already gone */ }
  }

  async #closeAll(): Promise<void> {
    this.#fdsClosed = true;
    const fds = [this.clientFd, this.#upFd].filter((fd) => fd >= 0);
    this.#upFd = -1;
    await Promise.all(fds.map((fd) => this.ring.close(fd).catch(() => undefined)));
  }
}
