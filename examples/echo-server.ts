/**
 * TCP echo server on the Ring directly (faster than the stream facade: no
 * Duplex, no copy in JavaScript).
 *
 *   node dist/examples/echo-server.js [--port 7000] [--host 127.0.0.1] [--mode copy|splice|recv]
 *
 * `--mode copy` (default) and `--mode splice`: each connection is one
 * {@link Ring.relay} from the socket to itself, run by the addon where it
 * reads the completions; no JavaScript runs per message and a connection's
 * whole JavaScript state is one Relay. `copy` receives into the ring's
 * shared relay buffers and sends from them with SQEs (no system call of its
 * own per message); `splice` moves page references through pipes that are
 * held only while bytes are in them (the payload never enters user space,
 * at two splice(2) calls per message).
 *
 * `--mode recv`: the same in JavaScript, to compare: one multishot recv per
 * connection over a provided-buffer group; received bytes are sent straight
 * back out of the kernel-filled buffer, which is recycled once the send
 * completed. One send per connection is in flight at a time (sends on one
 * socket must not overtake each other); chunks that arrive meanwhile go out
 * together in one sendmsg. A connection whose peer does not read stops
 * receiving while more than 256 KiB wait to go out.
 */
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import '../lib/ops-relay';
import type { Relay, RelayMode, RelayResult } from '../lib/ops-relay';
import type { StreamOp } from '../lib/ring';
import { native } from '../lib/native';
import { bufferGroup, BufferGroup } from '../lib/net/bufgroup';

const K = native.socketConstants;
const ENOBUFS = 105;
const MAX_QUEUED = 256 * 1024;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : def;
}

const port = Number(arg('port', '7000'));
const host = arg('host', '127.0.0.1');
const mode = arg('mode', 'copy');
if (mode !== 'copy' && mode !== 'splice' && mode !== 'recv') {
  throw new Error(`--mode must be 'copy', 'splice' or 'recv', got '${mode}'`);
}
// Its own ring, default size: a multishot recv per connection is not counted against the CQ
// (lib/ring.ts WAITING_OPS) and a burst of completions beyond it waits in the kernel (NODROP).
const ring = new Ring();
// 64 buffers of 256 KiB (16 MiB of address space; only pages the kernel writes
// become resident). Against 64 KiB buffers this took 64 KiB echo from 0.73x to
// 0.95x of the C epoll server (bench/RESULTS.md, "Echo servers").
// Created only in recv mode (a relay needs no buffers).
let groupOrNone: BufferGroup | undefined;
function recvGroup(): BufferGroup {
  groupOrNone ??= process.env.URING_NET_BUF_SIZE ? bufferGroup(ring) : new BufferGroup(ring, 1, { size: 256 * 1024, count: 64 });
  return groupOrNone;
}

/** One connection in recv mode. */
class Conn {
  readonly group = recvGroup();
  recv: StreamOp | undefined;
  sending = false;
  closed = false;
  queued = 0;
  bids: number[] = [];
  views: Buffer[] = [];

  constructor(readonly fd: number) {
    native.setsockopt(fd, K.IPPROTO_TCP!, K.TCP_NODELAY!, 1);
    this.arm();
  }

  arm(): void {
    if (this.closed || this.recv) return;
    this.recv = ring.recvMultishot(this.fd, this.group, (res, bid, more) => {
      if (res > 0 && this.closed) {
        this.group.recycle(bid); // arrived after close (the cancel had not landed yet): give it back
      } else if (res > 0) {
        this.bids.push(bid);
        this.views.push(this.group.view(bid, 0, res));
        this.queued += res;
        if (!this.sending) this.flush();
        if (this.queued > MAX_QUEUED) this.recv?.cancel();
      } else if (res === 0 || (res < 0 && res !== -ENOBUFS && res !== -125)) {
        this.close();
      }
      if (!more) {
        this.recv = undefined;
        if (res === -ENOBUFS) setImmediate(() => this.arm());
        else if (this.queued <= MAX_QUEUED) this.arm();
      }
    });
  }

  flush(): void {
    const views = this.views;
    const bids = this.bids;
    if (views.length === 0 || this.closed) return;
    this.views = [];
    this.bids = [];
    this.sending = true;
    const p = views.length === 1 ? ring.send(this.fd, views[0]!) : ring.sendmsg(this.fd, views);
    p.then((n) => {
      let total = 0;
      for (const v of views) total += v.length;
      if (n < total) {
        // Short send: put the unsent tail back in front (the buffers stay held).
        let skip = n;
        const restViews: Buffer[] = [];
        const restBids: number[] = [];
        for (let i = 0; i < views.length; i++) {
          const v = views[i]!;
          if (skip >= v.length) {
            skip -= v.length;
            this.group.recycle(bids[i]!);
            continue;
          }
          restViews.push(v.subarray(skip));
          restBids.push(bids[i]!);
          skip = 0;
        }
        this.views = restViews.concat(this.views);
        this.bids = restBids.concat(this.bids);
      } else {
        for (const b of bids) this.group.recycle(b);
      }
      this.queued -= n;
      this.sending = false;
      if (this.closed) {
        // Closed while this send ran: whatever waits to go out never will.
        for (const b of this.bids) this.group.recycle(b);
        this.bids = [];
        this.views = [];
        return;
      }
      if (this.views.length > 0) this.flush();
      if (!this.recv && this.queued <= MAX_QUEUED) this.arm();
    }, () => {
      for (const b of bids) this.group.recycle(b);
      this.sending = false;
      this.close();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.recv?.cancel();
    for (const b of this.bids) this.group.recycle(b);
    this.bids = [];
    this.views = [];
    void ring.close(this.fd).catch(() => undefined);
  }
}

const sockaddr = native.encodeSockaddr(host, port);
if (!sockaddr) throw new Error(`--host must be an IP address, got ${host}`);
const lfd = native.socketSync(host.includes(':') ? K.AF_INET6! : K.AF_INET!, K.SOCK_STREAM!, 0);
native.setsockopt(lfd, K.SOL_SOCKET!, K.SO_REUSEADDR!, 1);
native.bind(lfd, sockaddr);
native.listen(lfd, 4096);
/** A relayed connection ended (the peer closed or failed): close its socket. */
function closeRelayed(_result: RelayResult, relay: Relay): void {
  void ring.close(relay.src).catch(() => undefined);
}

/** Relay options, one object for every connection (nothing allocated per accept but the Relay). */
const relayOptions = { mode: (mode === 'splice' ? 'splice' : 'copy') as RelayMode, onEnd: closeRelayed };

/** One connection in copy or splice mode: the socket relayed to itself until the peer ends or fails. */
function relayEcho(fd: number): void {
  native.setsockopt(fd, K.IPPROTO_TCP!, K.TCP_NODELAY!, 1);
  try {
    ring.relay(fd, fd, relayOptions);
  } catch (e) {
    console.error(`fd ${fd}: ${(e as Error).message}`);
    void ring.close(fd).catch(() => undefined);
  }
}

ring.acceptMultishot(lfd, (err, fd) => {
  if (err) console.error(err.message);
  else if (mode === 'recv') new Conn(fd);
  else relayEcho(fd);
});
const a = native.getsockname(lfd);
console.log(`listening on ${a.address}:${a.port}`);
