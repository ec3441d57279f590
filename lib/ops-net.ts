/**
 * Socket operations on the Ring (attached by declaration merging).
 *
 * | method | opcode | since |
 * |---|---|---|
 * | socket | IORING_OP_SOCKET | 5.19 |
 * | connect | IORING_OP_CONNECT | 5.5 |
 * | accept / acceptMultishot | IORING_OP_ACCEPT (+ IORING_ACCEPT_MULTISHOT) | 5.5 / 5.19 |
 * | recv / recvMultishot | IORING_OP_RECV (+ IORING_RECV_MULTISHOT, provided buffers) | 5.6 / 6.0 |
 * | send | IORING_OP_SEND | 5.6 |
 * | sendmsg | IORING_OP_SENDMSG | 5.3 |
 * | sendZc | IORING_OP_SEND_ZC | 6.0 |
 * | shutdown | IORING_OP_SHUTDOWN | 5.11 |
 *
 * Every send adds MSG_NOSIGNAL: a peer that went away is an EPIPE error,
 * never a SIGPIPE.
 */
import { Ring, type OpOptions, type StreamOp } from './ring';
import { native, type Bytes } from './native';
import { Op, SqeFlag, CqeFlag } from './opcodes';
import { abortError, uringError, ringClosedError, ECANCELED } from './errors';
import { validateBuffer, validateBufferList, validateFd, validateInt, validateRange, validateSignal } from './validate';
import type { BufferGroup } from './net/bufgroup';

/** `MSG_*` flags for send/recv (Linux values). */
export const MsgFlag = {
  OOB: 0x1,
  PEEK: 0x2,
  DONTWAIT: 0x40,
  WAITALL: 0x100,
  NOSIGNAL: 0x4000,
  MORE: 0x8000,
} as const;

const IORING_RECV_MULTISHOT = 1 << 1;
const IORING_ACCEPT_MULTISHOT = 1 << 0;
const IORING_SEND_ZC_REPORT_USAGE = 1 << 3;
const NOTIF_USAGE_ZC_COPIED = 0x80000000 | 0;
const SOCK_CLOEXEC = 0o2000000;
const BUFFER_SHIFT = 16;
const ENOBUFS = 105;

/** Options for send-like operations. */
export interface SendOptions extends OpOptions {
  /** Extra `MSG_*` flags (MSG_NOSIGNAL is always added). */
  flags?: number;
}

/** Options for {@link Ring.sendZc}. */
export interface SendZcOptions extends SendOptions {
  /** Called with the byte count when the kernel has queued the data, before it releases the buffer. */
  onSent?: (bytes: number) => void;
  /** Called once the kernel released the buffer; `copied` is true when it copied the data anyway (loopback does). */
  onRelease?: (copied: boolean) => void;
}

/**
 * Handler of a multishot recv: `res > 0` bytes arrived in buffer `bid` of
 * the group (the handler must {@link BufferGroup.recycle} it once done with
 * the bytes); `res === 0` is end of stream; `res < 0` is `-errno`
 * (-ENOBUFS: the group ran dry, -ECANCELED: cancelled). `more` is false on
 * the last call: the multishot has ended and must be re-armed to keep reading.
 */
export type RecvHandler = (res: number, bid: number, more: boolean) => void;

/** Handler of a multishot accept: an error, or the new connection's fd. */
export type AcceptHandler = (err: Error | null, fd: number) => void;

/** A running multishot accept. */
export interface AcceptStream {
  /** Stops accepting; `done` resolves once the kernel confirmed. */
  cancel(): void;
  /** Resolves when the multishot accept has ended for good. */
  readonly done: Promise<void>;
}

declare module './ring' {
  interface Ring {
    /** Creates a socket (socket(2)); SOCK_CLOEXEC is always added. Resolves with its fd. Linux 5.19. */
    socket(domain: number, type: number, protocol?: number, options?: OpOptions): Promise<number>;
    /** Connects `fd` to the address in `sockaddr` (a sockaddr_in/sockaddr_in6; see `net` helpers). */
    connect(fd: number, sockaddr: Uint8Array, options?: OpOptions): Promise<void>;
    /** Accepts one connection (accept4(2) with SOCK_CLOEXEC). Resolves with the new fd. */
    accept(fd: number, options?: OpOptions): Promise<number>;
    /**
     * Accepts connections until cancelled, with one armed multishot accept
     * (Linux 5.19). When the kernel ends it (a CQE without IORING_CQE_F_MORE)
     * it is re-armed; transient errors (EMFILE, ENFILE, ENOMEM, ENOBUFS,
     * ECONNABORTED) reach `handler` and accepting resumes after a short pause.
     */
    acceptMultishot(fd: number, handler: AcceptHandler, options?: OpOptions): AcceptStream;
    /** Receives up to `length` bytes into `buffer[offset..]`. Resolves with the count (0: end of stream). */
    recv(fd: number, buffer: ArrayBufferView, offset?: number, length?: number, options?: SendOptions): Promise<number>;
    /**
     * Receives continuously into buffers picked by the kernel from `group`
     * (multishot recv, Linux 6.0). See {@link RecvHandler} for the contract;
     * call `cancel()` on the result to stop.
     */
    recvMultishot(fd: number, group: BufferGroup, handler: RecvHandler): StreamOp;
    /** Sends `buffer[offset..offset+length]`. Resolves with the bytes sent (may be fewer than asked). */
    send(fd: number, buffer: ArrayBufferView, offset?: number, length?: number, options?: SendOptions): Promise<number>;
    /** Gather send of `buffers` in order (sendmsg(2)). Resolves with the bytes sent. */
    sendmsg(fd: number, buffers: readonly ArrayBufferView[], options?: SendOptions): Promise<number>;
    /**
     * Zero-copy send (IORING_OP_SEND_ZC, Linux 6.0): the kernel transmits from
     * the caller's pages. Resolves with the bytes sent only after the
     * kernel's notification CQE (IORING_CQE_F_NOTIF) said it no longer uses
     * the buffer; until then the ring holds the buffer (it cannot be
     * collected) and the caller must not change it. On loopback the kernel
     * copies anyway (`onRelease(true)`), so there is no gain there.
     */
    sendZc(fd: number, buffer: ArrayBufferView, options?: SendZcOptions & { offset?: number; length?: number }): Promise<number>;
    /**
     * Sends with {@link Ring.sendZc} when the message is at least
     * {@link zeroCopyThreshold} bytes (default 1 MiB), else with {@link Ring.send}.
     * Resolves with the bytes sent once the buffer may be reused.
     */
    sendAuto(fd: number, buffer: ArrayBufferView, options?: SendOptions & { offset?: number; length?: number }): Promise<number>;
    /**
     * Shuts down part of a full-duplex connection (`how`: 0 read, 1 write, 2 both).
     * The kernel runs this in an io-wq worker and resolves the fd number only
     * there: wait for the promise before closing the fd, or a new file that
     * reuses the number may be the one shut down.
     */
    shutdown(fd: number, how: number, options?: OpOptions): Promise<void>;
  }
}

Ring.prototype.socket = function socket(this: Ring, domain: number, type: number, protocol = 0,
  options?: OpOptions): Promise<number> {
  validateInt(domain, 'domain', 0, 0xffff);
  validateInt(type, 'type', 0, 0x7fffffff);
  validateInt(protocol, 'protocol', 0, 0xffff);
  // socket: fd = domain, off = type, len = protocol.
  return this.submit({ opcode: Op.SOCKET, fd: domain, off: type | SOCK_CLOEXEC, len: protocol, syscall: 'socket',
    signal: options?.signal });
};

Ring.prototype.connect = function connect(this: Ring, fd: number, sockaddr: Uint8Array,
  options?: OpOptions): Promise<void> {
  validateFd(fd);
  validateBuffer(sockaddr, 'sockaddr');
  // connect: addr = sockaddr, off = addrlen.
  return this.submit({ opcode: Op.CONNECT, fd, buf1: sockaddr, off: sockaddr.byteLength, syscall: 'connect',
    signal: options?.signal }).then(() => undefined);
};

Ring.prototype.accept = function accept(this: Ring, fd: number, options?: OpOptions): Promise<number> {
  validateFd(fd);
  return this.submit({ opcode: Op.ACCEPT, fd, opFlags: SOCK_CLOEXEC, syscall: 'accept', signal: options?.signal });
};

const TRANSIENT_ACCEPT = new Set([24 /* EMFILE */, 23 /* ENFILE */, 12 /* ENOMEM */, ENOBUFS, 103 /* ECONNABORTED */,
  4 /* EINTR */, 11 /* EAGAIN */]);

Ring.prototype.acceptMultishot = function acceptMultishot(this: Ring, fd: number, handler: AcceptHandler,
  options?: OpOptions): AcceptStream {
  validateFd(fd);
  if (typeof handler !== 'function') throw new TypeError('The "handler" argument must be a function');
  const signal = validateSignal(options?.signal);
  if (this.destroyed) throw ringClosedError('accept');
  let op: StreamOp | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const ring = this;
  const end = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    signal?.removeEventListener('abort', cancel);
    finish();
  };
  const arm = (): void => {
    timer = undefined;
    if (stopped || ring.destroyed) return end();
    op = ring.submitStream({ opcode: Op.ACCEPT, fd, ioprio: IORING_ACCEPT_MULTISHOT, opFlags: SOCK_CLOEXEC,
      syscall: 'accept' }, (res, flags) => {
      const more = (flags & CqeFlag.MORE) !== 0;
      if (res >= 0) {
        if (stopped) native.closeFd(res); // accepted after cancel was asked: nobody will own it
        else handler(null, res);
      } else if (res !== -ECANCELED || !stopped) {
        const errno = -res;
        if (errno !== ECANCELED) handler(uringError(errno, 'accept'), -1);
        if (!more && !stopped && (TRANSIENT_ACCEPT.has(errno) || errno === ECANCELED)) {
          op = undefined;
          timer = setTimeout(arm, errno === ECANCELED ? 0 : 50);
          return;
        }
        if (!more && errno !== ECANCELED) stopped = true;
      }
      if (!more) {
        op = undefined;
        if (stopped) end();
        else arm();
      }
    });
  };
  function cancel(): void {
    if (stopped) return;
    stopped = true;
    if (op) op.cancel();
    else end();
  }
  if (signal?.aborted) {
    stopped = true;
    end();
  } else {
    signal?.addEventListener('abort', cancel, { once: true });
    arm();
  }
  return { cancel, done };
};

Ring.prototype.recv = function recv(this: Ring, fd: number, buffer: ArrayBufferView, offset = 0,
  length?: number, options?: SendOptions): Promise<number> {
  validateFd(fd);
  validateBuffer(buffer);
  const len = validateRange(buffer, offset, length ?? buffer.byteLength - offset);
  const flags = options?.flags ?? 0;
  validateInt(flags, 'options.flags', 0, 0x7fffffff);
  return this.submit({ opcode: Op.RECV, fd, buf1: buffer, addr: offset, len, opFlags: flags, syscall: 'read',
    signal: options?.signal });
};

Ring.prototype.recvMultishot = function recvMultishot(this: Ring, fd: number, group: BufferGroup,
  handler: RecvHandler): StreamOp {
  validateFd(fd);
  return this.submitStream({ opcode: Op.RECV, fd, flags: SqeFlag.BUFFER_SELECT, ioprio: IORING_RECV_MULTISHOT,
    bufIndex: group.bgid, hold: group, syscall: 'read' }, (res, flags) => {
    const bid = (flags & CqeFlag.BUFFER) !== 0 ? flags >>> BUFFER_SHIFT : -1;
    handler(res, bid, (flags & CqeFlag.MORE) !== 0);
  });
};

function sendFlags(options: SendOptions | undefined): number {
  const flags = options?.flags ?? 0;
  validateInt(flags, 'options.flags', 0, 0x7fffffff);
  return flags | MsgFlag.NOSIGNAL;
}

Ring.prototype.send = function send(this: Ring, fd: number, buffer: ArrayBufferView, offset = 0,
  length?: number, options?: SendOptions): Promise<number> {
  validateFd(fd);
  validateBuffer(buffer);
  const len = validateRange(buffer, offset, length ?? buffer.byteLength - offset);
  return this.submit({ opcode: Op.SEND, fd, buf1: buffer, addr: offset, len, opFlags: sendFlags(options),
    syscall: 'write', signal: options?.signal });
};

/** sizeof(struct msghdr) on 64-bit Linux. */
const MSGHDR_SIZE = 56;

Ring.prototype.sendmsg = function sendmsg(this: Ring, fd: number, buffers: readonly ArrayBufferView[],
  options?: SendOptions): Promise<number> {
  validateFd(fd);
  validateBufferList(buffers);
  const iov = Buffer.allocUnsafe(16 * buffers.length);
  native.fillIovecs(iov, buffers as readonly Bytes[]);
  const msg = Buffer.alloc(MSGHDR_SIZE);
  msg.writeBigUInt64LE(native.addressOf(iov), 16); // msg_iov
  msg.writeBigUInt64LE(BigInt(buffers.length), 24); // msg_iovlen
  return this.submit({ opcode: Op.SENDMSG, fd, buf1: msg, len: 1, opFlags: sendFlags(options), hold: [iov, buffers],
    syscall: 'write', signal: options?.signal });
};

Ring.prototype.sendZc = function sendZc(this: Ring, fd: number, buffer: ArrayBufferView,
  options?: SendZcOptions & { offset?: number; length?: number }): Promise<number> {
  validateFd(fd);
  validateBuffer(buffer);
  const offset = options?.offset ?? 0;
  const len = validateRange(buffer, offset, options?.length ?? buffer.byteLength - offset);
  const flags = sendFlags(options);
  const signal = validateSignal(options?.signal);
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const onSent = options?.onSent;
  const onRelease = options?.onRelease;
  return new Promise<number>((resolve, reject) => {
    let sent = -1;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      op.cancel();
    };
    // The ring holds `buffer` (buf1) until the CQE without IORING_CQE_F_MORE:
    // the notification when there is one, else the only CQE.
    const op = this.submitStream({ opcode: Op.SEND_ZC, fd, buf1: buffer, addr: offset, len, opFlags: flags,
      ioprio: IORING_SEND_ZC_REPORT_USAGE, syscall: 'write' }, (res, cflags) => {
      const more = (cflags & CqeFlag.MORE) !== 0;
      if ((cflags & CqeFlag.NOTIF) === 0) {
        sent = res;
        if (res >= 0 && onSent) onSent(res);
      } else if (onRelease) {
        onRelease((res & NOTIF_USAGE_ZC_COPIED) !== 0);
      }
      if (more) return;
      signal?.removeEventListener('abort', onAbort);
      if (aborted && sent < 0) reject(abortError(signal));
      else if (sent < 0) reject(uringError(-sent, 'write'));
      else resolve(sent);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
};

/**
 * Size from which {@link Ring.sendAuto} uses zero-copy send. Measured with
 * bench/zc-threshold.ts (bench/RESULTS.md, "Net facade"): over loopback TCP with
 * one send in flight, SEND_ZC (waiting for its notification) ran at 0.12x of a
 * copying send at 1 KiB, 0.47x at 64 KiB, 0.53x at 256 KiB, 1.30x at 1 MiB and
 * 1.05x at 4 MiB, although the kernel reported copying the data in every case
 * (loopback always copies). On a real NIC the crossover is likely lower;
 * measure there and set it with {@link setZeroCopyThreshold}.
 */
export let zeroCopyThreshold = 1 << 20;

/** Changes the size from which {@link Ring.sendAuto} uses zero-copy send. */
export function setZeroCopyThreshold(bytes: number): void {
  validateInt(bytes, 'bytes', 0, Number.MAX_SAFE_INTEGER);
  zeroCopyThreshold = bytes;
}

Ring.prototype.sendAuto = function sendAuto(this: Ring, fd: number, buffer: ArrayBufferView,
  options?: SendOptions & { offset?: number; length?: number }): Promise<number> {
  validateBuffer(buffer);
  const offset = options?.offset ?? 0;
  const len = options?.length ?? buffer.byteLength - offset;
  if (len >= zeroCopyThreshold) return this.sendZc(fd, buffer, options);
  return this.send(fd, buffer, offset, len, options);
};

Ring.prototype.shutdown = function shutdown(this: Ring, fd: number, how: number, options?: OpOptions): Promise<void> {
  validateFd(fd);
  validateInt(how, 'how', 0, 2);
  return this.submit({ opcode: Op.SHUTDOWN, fd, len: how, syscall: 'shutdown', signal: options?.signal })
    .then(() => undefined);
};
