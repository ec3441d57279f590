/**
 * The Ring: one io_uring, Promise-returning operations, batched submission
 * and batched completion.
 *
 * Submit path: each operation takes a slot (a reusable entry in the tables
 * below), writes a compact record into a Float64Array shared with the addon
 * and calls `prep`, which turns the record into an SQE without a system call.
 * Everything queued during one turn of the event loop reaches the kernel with
 * one io_uring_enter (the addon's uv_prepare hook, or the end of a
 * completion batch). Operations beyond what the CQ can hold wait in a JS
 * backlog and go out as completions free room, so no CQE is ever dropped.
 *
 * Completion path: the addon drains every ready CQE into a shared Int32Array
 * and calls {@link Ring} once per batch; user_data is `slot | generation << 32`,
 * so a stale completion can never settle a reused slot.
 *
 * GC safety: every buffer, iovec array, path and struct the kernel uses is
 * referenced from its slot until the final CQE of the operation arrives.
 */
import { native, type Bytes, type NativeRing } from './native';
import { R, C, CQE_TAKEN, INTERNAL_SLOT, NATIVE_GEN } from './record';
import { Op, OP_SINCE, SqeFlag, CqeFlag, CancelFlag, FSYNC_DATASYNC, type OpName } from './opcodes';
import { abortError, ringClosedError, setupError, uringError, ECANCELED, outOfRange } from './errors';
import { Stats, STATX_MASK, STATX_SIZE } from './stats';
import { Backlog } from './backlog';
import {
  validateBuffer, validateBufferList, validateFd, validateInt, validateRange, validateSignal, toPath, toPosition,
} from './validate';

/** Options for {@link Ring}. */
export interface RingOptions {
  /** Submission queue entries (rounded up to a power of two; default 256, max 32768). */
  entries?: number;
  /** Completion queue entries (default 8 x entries, at least entries; max 65536). */
  cqEntries?: number;
  /**
   * Use IORING_SETUP_DEFER_TASKRUN | SINGLE_ISSUER where the kernel has them
   * (6.1+). Default true. The ring then only ever runs on the thread that made it.
   */
  deferTaskrun?: boolean;
}

/** Options every operation accepts. */
export interface OpOptions {
  /** Cancels the operation (IORING_OP_ASYNC_CANCEL); the Promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/** What the kernel granted when the ring was set up. */
export interface RingInfo {
  /** The ring's file descriptor. */
  fd: number;
  /** Submission queue size. */
  sqEntries: number;
  /** Completion queue size. */
  cqEntries: number;
  /** IORING_SETUP_* flags the kernel accepted. */
  setupFlags: number;
  /** IORING_FEAT_* flags the kernel reported. */
  features: number;
  /** Whether completions run as deferred task work (IORING_SETUP_DEFER_TASKRUN). */
  deferTaskrun: boolean;
  /** Operations submitted whose final completion has not arrived. */
  inflight: number;
  /** Operations waiting in the JavaScript backlog. */
  queued: number;
  /** io_uring_enter calls made so far (submissions and completion harvests). */
  enters: number;
  /**
   * CQEs the kernel dropped (cq.koverflow): it could not keep them on its
   * overflow list. Non-zero means some operation will never settle: a bug.
   * (CQEs held back while the CQ was full are not counted; they arrive.)
   */
  cqOverflow: number;
}

/** Which opcodes this kernel supports (IORING_REGISTER_PROBE). */
export interface RingProbe {
  /** Opcodes the kernel reports as supported. */
  supported: OpName[];
  /** Opcodes this library knows that the kernel does not support. */
  unsupported: OpName[];
  /** Whether `op` is supported. */
  has(op: OpName): boolean;
}

/**
 * One SQE, described field by field, for the layers built on the ring
 * (files, pipes, sockets). Buffers given as `buf1`/`buf2`/`buf3` become the
 * `addr`, `off` and `addr3` fields (their address plus the numeric field as
 * a byte offset) and are held until the final CQE.
 * @internal
 */
export interface RawOp {
  /** IORING_OP_* */
  opcode: number;
  fd?: number;
  /** IOSQE_* flags. */
  flags?: number;
  ioprio?: number;
  off?: number;
  addr?: number;
  len?: number;
  opFlags?: number;
  bufIndex?: number;
  fdIn?: number;
  addr3?: number;
  buf1?: Bytes;
  buf2?: Bytes;
  buf3?: Bytes;
  /** Anything else the kernel reads or writes, held until the final CQE. */
  hold?: unknown;
  /** Node's name for the system call, for errors. */
  syscall: string;
  path?: string;
  dest?: string;
  signal?: AbortSignal;
}

/** Handler for each CQE of a multi-completion operation. @internal */
export type CqeHandler = (res: number, flags: number) => void;

/** A running multi-completion operation (multishot accept/recv, zero-copy send). @internal */
export interface StreamOp {
  /** Asks the kernel to stop it; the final CQE still arrives through the handler. */
  cancel(): void;
}

const KIND_VALUE = 0; // resolve with the result
const KIND_VOID = 1; // resolve with undefined
const KIND_STAT = 2; // resolve with Stats parsed from the held statx buffer
const KIND_TIMEOUT = 3; // -ETIME is success
const KIND_HANDLER = 4; // a CqeHandler decides
const KIND_RAW = 5; // resolve with the raw result, even negative (linked chains)

const GEN_MASK = 0xfffff; // keeps gen * 2^32 + slot an exact double
/**
 * Opcodes that can wait without limit for a peer, a timer or readiness
 * (socket I/O, poll, accept, connect, timeouts, splice/tee, which may read
 * from a socket or a pipe). They are not counted
 * against the CQ-sized in-flight cap: a server holds one per idle
 * connection, and if they filled the cap, operations queued behind them
 * (including the ones that would unblock them) would never be submitted.
 * A burst of their completions beyond the CQ goes to the kernel's NODROP
 * overflow list and is delivered on the next reap.
 */
const WAITING_OPS = new Set<number>([Op.POLL_ADD, Op.RECV, Op.RECVMSG, Op.SEND, Op.SENDMSG, Op.SEND_ZC,
  Op.SENDMSG_ZC, Op.ACCEPT, Op.CONNECT, Op.TIMEOUT, Op.SPLICE, Op.TEE]);
/** Opcodes whose result is a new file descriptor. */
const FD_RESULT_OPS = new Set<number>([Op.OPENAT, Op.OPENAT2, Op.SOCKET, Op.ACCEPT, Op.FIXED_FD_INSTALL]);
const ETIME = 62;
const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const AT_REMOVEDIR = 0x200;
const O_CLOEXEC = 0o2000000;
const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const O_NONBLOCK = 0o4000;
const EMPTY_PATH = Buffer.from('\0');

/** Per-slot state, allocated once per slot and reused. */
class Slot {
  gen = 0;
  busy = false;
  queued = false;
  aborted = false;
  /** The result is a new fd (open, socket, accept): close it if the caller aborted. */
  fdResult = false;
  /** A plain close(fd) from {@link Ring.close} (-1 otherwise): destroy() does it if it never reached the kernel. */
  closes = -1;
  /** That fd was adopted (owned-fds.ts): adopted again when the close ends without running (aborted). */
  closeAdopted = false;
  kind = KIND_VALUE;
  /** Not counted against the in-flight cap (multishots, ops that wait on a peer: see WAITING_OPS). */
  uncapped = false;
  resolve: ((v: unknown) => void) | undefined = undefined;
  reject: ((e: unknown) => void) | undefined = undefined;
  handler: CqeHandler | undefined = undefined;
  hold: unknown = undefined;
  syscall = '';
  path: string | undefined = undefined;
  dest: string | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** Every slot of this slot's link chain (submitLinked), in order; shared by them. */
  chain: Slot[] | undefined = undefined;
  constructor(readonly index: number) {}
}

/** An operation the addon drives by itself (see {@link Ring.startNative}). @internal */
export interface NativeOp {
  /** Called once with the operation's result (0 or -errno). */
  nativeEnd(res: number): void;
  /** Asks the addon to end it now (destroy() calls it before cancelling the kernel's work). */
  nativeStop(): void;
}

/** Completion records being delivered: where they start in the CQ array, how many, the next one. */
interface Batch {
  base: number;
  end: number;
  next: number;
}

/** No batch being delivered. */
const IDLE_BATCH: Batch = Object.freeze({ base: 0, end: 0, next: 0 });

/** Objects a destroyed ring could not prove the kernel has released. */
const graveyard: unknown[] = [];

/**
 * One io_uring instance with Promise-returning operations.
 *
 * Operations take Node's argument order where Node has one. A ring belongs
 * to the thread that created it; use one per thread ({@link Ring.forThread}).
 * Call {@link Ring.destroy} when done: it cancels what is in flight and
 * rejects those Promises with ECANCELED.
 *
 * @example
 * ```ts
 * const ring = new Ring();
 * const fd = await ring.open('/etc/hostname', fs.constants.O_RDONLY);
 * const buf = Buffer.alloc(64);
 * const n = await ring.read(fd, buf, 0, buf.length, 0);
 * await ring.close(fd);
 * ring.destroy();
 * ```
 */
export class Ring {
  readonly #h: NativeRing;
  readonly #rec = new Float64Array(R.FIELDS);
  readonly #cq: Int32Array;
  readonly #slots: Slot[] = [];
  readonly #free: number[] = [];
  /** Addon-driven operations (relays) by the addon's id. */
  readonly #natives: Array<NativeOp | undefined> = [];
  /**
   * Operations waiting for the kernel, in two queues so that one class never
   * waits behind the other: uncapped ones (and the ring's own cancels) wait
   * only for a free SQE; capped ones also for room under the cap. A capped
   * read blocked on a pipe can then never hold back the recv or poll that
   * would let the program make progress.
   */
  readonly #waitingQ = new Backlog();
  readonly #cappedQ = new Backlog();
  /** Operations in the kernel that count against the CQ-sized cap. */
  #inflight = 0;
  /** Operations in the kernel that are not capped: multishots, zero-copy sends, WAITING_OPS. */
  #streams = 0;
  readonly #maxInflight: number;
  /** The ring takes no more work (destroy() is past delivering the rest of a batch). */
  #destroyed = false;
  /** destroy() was called (set first: while it delivers the rest of a batch the ring still takes work). */
  #destroyCalled = false;
  /**
   * Closes destroy() does itself once the kernel is done: those still in the
   * backlog, and those its cancel caught before they ran (a close goes to
   * io-wq on files with a flush method: overlayfs, NFS, FUSE). Slot and its
   * generation.
   */
  readonly #deferredCloses: Array<[Slot, number]> = [];
  #probe: RingProbe | undefined;
  /**
   * The completion records being delivered (#complete): where they start in
   * #cq, how many, and the next one. destroy() called from one of their
   * callbacks delivers the rest first, so completions the kernel had already
   * produced keep their results instead of turning into ECANCELED.
   */
  #batch: Batch = IDLE_BATCH;
  /** The batch objects, reused: [0] for a batch in the lower half of #cq, [1] for one nested in the upper half. */
  readonly #batches: readonly [Batch, Batch] = [{ base: 0, end: 0, next: 0 }, { base: 0, end: 0, next: 0 }];

  /**
   * Creates a ring.
   * @throws TypeError/RangeError for bad options; an `ERR_IO_URING_UNAVAILABLE`
   * error (with `errno`) when the kernel or a security policy refuses io_uring.
   */
  constructor(options: RingOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw outOfRange('options', 'an object', options);
    }
    const entries = options.entries ?? 256;
    validateInt(entries, 'options.entries', 1, 32768);
    const cqEntries = options.cqEntries ?? Math.min(65536, Math.max(entries * 8, 1024));
    validateInt(cqEntries, 'options.cqEntries', entries, 65536);
    this.#cq = new Int32Array(C.FIELDS * 1024);
    try {
      this.#h = new native.RingHandle(entries, cqEntries, this.#rec, this.#cq, (n, base) => this.#complete(n, base),
        options.deferTaskrun !== false);
    } catch (e) {
      const err = e as { errno?: number; syscall?: string };
      if (err && err.syscall === 'io_uring_setup' && typeof err.errno === 'number') throw setupError(-err.errno);
      throw e;
    }
    const info = this.#h.info();
    // Never more in flight than the CQ holds: the CQ cannot overflow.
    this.#maxInflight = info.cqEntries;
  }

  /** The ring of the calling thread, created on first use and kept for the thread's life. */
  static forThread(): Ring {
    if (!threadRing || threadRing.#destroyCalled) threadRing = new Ring();
    return threadRing;
  }

  /**
   * Whether {@link Ring.destroy} has been called: true from its start. (Called
   * from a completion callback, destroy() first delivers the rest of that
   * batch; operations those callbacks submit are still taken, then cancelled.)
   */
  get destroyed(): boolean {
    return this.#destroyCalled;
  }

  /** What the kernel granted and what is in flight now. */
  info(): RingInfo {
    if (this.#destroyed) throw ringClosedError('read ring info');
    const i = this.#h.info();
    return {
      fd: i.fd,
      sqEntries: i.sqEntries,
      cqEntries: i.cqEntries,
      setupFlags: i.setupFlags,
      features: i.features,
      deferTaskrun: (i.setupFlags & (1 << 13)) !== 0,
      inflight: this.#inflight + this.#streams,
      queued: this.#waitingQ.size + this.#cappedQ.size,
      enters: i.enters,
      cqOverflow: i.cqOverflow,
    };
  }

  /** Which opcodes this kernel supports (asked once, then cached). */
  probe(): RingProbe {
    if (this.#probe) return this.#probe;
    if (this.#destroyed) throw ringClosedError('probe');
    const bits = this.#h.probe();
    const supported: OpName[] = [];
    const unsupported: OpName[] = [];
    for (const name of Object.keys(Op) as OpName[]) (bits[Op[name]] ? supported : unsupported).push(name);
    const set = new Set(supported);
    this.#probe = { supported, unsupported, has: (op) => set.has(op) };
    return this.#probe;
  }

  // ---------------------------------------------------------------- operations

  /** Does nothing, through the kernel: measures the ring itself. Resolves with 0. */
  nop(options?: OpOptions): Promise<number> {
    const signal = this.#signal(options);
    const s = this.#begin('nop', KIND_VALUE, signal);
    this.#fill(Op.NOP, -1, 0, 0, 0, 0, s);
    return this.#go(s, undefined, undefined, undefined, signal);
  }

  /**
   * Reads up to `length` bytes from `fd` at `position` into `buffer[offset..]`
   * (pread(2); position null or -1 reads at the file position).
   * Resolves with the number of bytes read: 0 at end of file, and possibly
   * fewer than asked (a short read is not an error).
   */
  read(fd: number, buffer: ArrayBufferView, offset: number, length: number,
    position: number | bigint | null, options?: OpOptions): Promise<number> {
    return this.#rw(Op.READ, 'read', fd, buffer, offset, length, position, options);
  }

  /**
   * Writes `length` bytes of `buffer[offset..]` to `fd` at `position`
   * (pwrite(2)). Resolves with the bytes written, which may be fewer than asked.
   */
  write(fd: number, buffer: ArrayBufferView, offset: number, length: number,
    position: number | bigint | null, options?: OpOptions): Promise<number> {
    return this.#rw(Op.WRITE, 'write', fd, buffer, offset, length, position, options);
  }

  /** Scatter read (preadv2(2)) into `buffers` in order. Resolves with the bytes read. */
  readv(fd: number, buffers: readonly ArrayBufferView[], position: number | bigint | null = null,
    options?: OpOptions): Promise<number> {
    return this.#vector(Op.READV, 'read', fd, buffers, position, options);
  }

  /** Gather write (pwritev2(2)) of `buffers` in order. Resolves with the bytes written. */
  writev(fd: number, buffers: readonly ArrayBufferView[], position: number | bigint | null = null,
    options?: OpOptions): Promise<number> {
    return this.#vector(Op.WRITEV, 'write', fd, buffers, position, options);
  }

  /**
   * Opens a file (openat(2) relative to the working directory). O_CLOEXEC is
   * always added, as Node does. Resolves with the file descriptor.
   */
  open(path: string | Buffer | URL, flags: number, mode = 0o666, options?: OpOptions): Promise<number> {
    const [p, pb] = toPath(path);
    validateInt(flags, 'flags', -0x80000000, 0x7fffffff);
    validateInt(mode, 'mode', 0, 0o7777);
    const signal = this.#signal(options);
    // The kernel first tries an open with O_NONBLOCK added and returns what
    // that gives unless it is EAGAIN; for a FIFO opened for writing with no
    // reader yet that is ENXIO, where open(2) (and Node) would wait for a
    // reader. Retry those in an io-wq worker (IOSQE_ASYNC), which opens the
    // blocking way. Only write-only opens without O_NONBLOCK can meet this.
    const opened = this.#open(p, pb, flags, mode, signal, false);
    if ((flags & (O_ACCMODE | O_NONBLOCK)) !== O_WRONLY) return opened;
    return opened.catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENXIO' || signal?.aborted || this.#destroyed) throw e;
      return this.#open(p, pb, flags, mode, signal, true);
    });
  }

  #open(p: string, pb: Buffer, flags: number, mode: number, signal: AbortSignal | undefined, async: boolean):
    Promise<number> {
    const s = this.#begin('open', KIND_VALUE, signal);
    s.hold = pb;
    s.path = p;
    s.fdResult = true;
    this.#fill(Op.OPENAT, AT_FDCWD, 0, 0, mode, (flags | O_CLOEXEC) >>> 0, s);
    if (async) this.#rec[R.FLAGS] = SqeFlag.ASYNC;
    return this.#go(s, pb, undefined, undefined, signal);
  }

  /**
   * Closes a file descriptor. On a destroyed ring it closes at once with
   * close(2) (cleanup paths must not leak fds because the ring is gone).
   * An fd adopted with {@link adoptFd} is released just before the close
   * goes to the kernel (a close still waiting for room keeps it adopted, so
   * a thread that ends meanwhile still closes it). A signal that
   * fires after the kernel ran the close does not turn it into an
   * AbortError: the promise settles with the close's own result (the fd is
   * gone; a retry could close a reused number).
   */
  close(fd: number, options?: OpOptions): Promise<void> {
    validateFd(fd);
    const signal = this.#signal(options);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.#destroyed) {
      try {
        native.closeFd(fd);
      } catch (e) {
        return Promise.reject(uringError(-((e as NodeJS.ErrnoException).errno ?? 0), 'close'));
      }
      return Promise.resolve();
    }
    const adopted = native.releaseFd(fd);
    const s = this.#begin('close', KIND_VOID, signal);
    s.closes = fd;
    s.closeAdopted = adopted;
    this.#fill(Op.CLOSE, fd, 0, 0, 0, 0, s);
    const p = this.#go(s, undefined, undefined, undefined, signal) as Promise<never>;
    // Waiting in the backlog, the fd stays adopted: a thread that ends before the close reaches the
    // kernel still closes it. #drainQueue releases it again just before it goes out.
    if (s.queued && adopted) native.adoptFd(fd);
    return p;
  }

  /** File status, following symbolic links (statx(2)). */
  stat(path: string | Buffer | URL, options?: OpOptions): Promise<Stats> {
    const [p, pb] = toPath(path);
    return this.#statx(AT_FDCWD, pb, 0, 'stat', p, options);
  }

  /** File status of a symbolic link itself (statx(2) with AT_SYMLINK_NOFOLLOW). */
  lstat(path: string | Buffer | URL, options?: OpOptions): Promise<Stats> {
    const [p, pb] = toPath(path);
    return this.#statx(AT_FDCWD, pb, AT_SYMLINK_NOFOLLOW, 'lstat', p, options);
  }

  /** File status of an open descriptor (statx(2) with AT_EMPTY_PATH). */
  fstat(fd: number, options?: OpOptions): Promise<Stats> {
    validateFd(fd);
    return this.#statx(fd, EMPTY_PATH, AT_EMPTY_PATH, 'fstat', undefined, options);
  }

  /** Flushes file data and metadata to the device (fsync(2)). */
  fsync(fd: number, options?: OpOptions): Promise<void> {
    return this.#sync(fd, 0, 'fsync', options);
  }

  /** Flushes file data, and only the metadata needed to read it back (fdatasync(2)). */
  fdatasync(fd: number, options?: OpOptions): Promise<void> {
    return this.#sync(fd, FSYNC_DATASYNC, 'fdatasync', options);
  }

  /**
   * Allocates (or with `mode` flags such as FALLOC_FL_PUNCH_HOLE, frees) the
   * byte range [offset, offset + length) of a file (fallocate(2)).
   */
  fallocate(fd: number, mode: number, offset: number, length: number, options?: OpOptions): Promise<void> {
    validateFd(fd);
    validateInt(mode, 'mode', 0, 0xff);
    validateInt(offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
    validateInt(length, 'length', 1, Number.MAX_SAFE_INTEGER);
    const signal = this.#signal(options);
    const s = this.#begin('fallocate', KIND_VOID, signal);
    // fallocate carries the length in addr and the mode in len.
    this.#fill(Op.FALLOCATE, fd, offset, length, mode, 0, s);
    return this.#go(s, undefined, undefined, undefined, signal) as Promise<never>;
  }

  /** Removes a file (unlinkat(2)). */
  unlink(path: string | Buffer | URL, options?: OpOptions): Promise<void> {
    const [p, pb] = toPath(path);
    return this.#unlinkat(pb, 0, 'unlink', p, options);
  }

  /** Removes an empty directory (unlinkat(2) with AT_REMOVEDIR). */
  rmdir(path: string | Buffer | URL, options?: OpOptions): Promise<void> {
    const [p, pb] = toPath(path);
    return this.#unlinkat(pb, AT_REMOVEDIR, 'rmdir', p, options);
  }

  /** Renames `oldPath` to `newPath`, replacing it if it exists (renameat2(2)). */
  rename(oldPath: string | Buffer | URL, newPath: string | Buffer | URL, options?: OpOptions): Promise<void> {
    const [o, ob] = toPath(oldPath, 'oldPath');
    const [n, nb] = toPath(newPath, 'newPath');
    const signal = this.#signal(options);
    const s = this.#begin('rename', KIND_VOID, signal);
    s.hold = [ob, nb];
    s.path = o;
    s.dest = n;
    // renameat: addr = old path, len = new dirfd, addr2 (off) = new path.
    this.#fill(Op.RENAMEAT, AT_FDCWD, 0, 0, AT_FDCWD, 0, s);
    return this.#go(s, ob, nb, undefined, signal) as Promise<never>;
  }

  /** Creates a directory (mkdirat(2)); not recursive (the fs facade adds that). */
  mkdir(path: string | Buffer | URL, mode = 0o777, options?: OpOptions): Promise<void> {
    const [p, pb] = toPath(path);
    validateInt(mode, 'mode', 0, 0o7777);
    const signal = this.#signal(options);
    const s = this.#begin('mkdir', KIND_VOID, signal);
    s.hold = pb;
    s.path = p;
    this.#fill(Op.MKDIRAT, AT_FDCWD, 0, 0, mode, 0, s);
    return this.#go(s, pb, undefined, undefined, signal) as Promise<never>;
  }

  /** Resolves after `ms` milliseconds, measured by the kernel (IORING_OP_TIMEOUT). */
  timeout(ms: number, options?: OpOptions): Promise<void> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw outOfRange('ms', 'a finite number >= 0', ms);
    const signal = this.#signal(options);
    const s = this.#begin('timeout', KIND_TIMEOUT, signal);
    const ts = Buffer.alloc(16);
    const ns = Math.round(ms * 1e6);
    ts.writeBigInt64LE(BigInt(Math.floor(ns / 1e9)), 0);
    ts.writeBigInt64LE(BigInt(ns % 1e9), 8);
    s.hold = ts;
    this.#fill(Op.TIMEOUT, -1, 0, 0, 1, 0, s);
    return this.#go(s, ts, undefined, undefined, signal) as Promise<never>;
  }

  // ------------------------------------------------------- for the layers above

  /**
   * Submits one raw SQE. Resolves with a non-negative result, rejects with a
   * Node-shaped error for a negative one.
   * @internal
   */
  submit(op: RawOp): Promise<number> {
    const signal = this.#signal(op);
    const s = this.#begin(op.syscall, KIND_VALUE, signal);
    return this.#raw(s, op, signal);
  }

  /**
   * Submits a chain of SQEs linked with IOSQE_IO_LINK: each starts only if
   * the one before it succeeded in full. Resolves with every raw result
   * (negative errno included; -ECANCELED for the links cut from the chain)
   * once every link has completed; rejects with an AbortError (after all
   * links completed) when an op's `signal` fired.
   * @internal
   */
  submitLinked(ops: readonly RawOp[]): Promise<number[]> {
    if (this.#destroyed) throw ringClosedError(ops[0]?.syscall ?? 'submit');
    // A chain is submitted whole or not at all: one link left out would tie
    // the one before it to whatever SQE comes next.
    const aborted = ops.find((op) => this.#signal(op)?.aborted);
    if (aborted) return Promise.reject(abortError(aborted.signal));
    const promises: Promise<number>[] = [];
    // One cap class for the whole chain, or a capped link could wait in the
    // backlog while the link before it is already in the kernel.
    const waiting = ops.some((op) => WAITING_OPS.has(op.opcode));
    const links: Slot[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const signal = this.#signal(op);
      const s = this.#begin(op.syscall, KIND_RAW, signal);
      s.uncapped = waiting;
      s.chain = links;
      links.push(s);
      const last = i === ops.length - 1;
      promises.push(this.#raw(s, { ...op, flags: (op.flags ?? 0) | (last ? 0 : SqeFlag.IO_LINK) }, signal,
        last ? 0 : ops.length - 1 - i));
    }
    // Settle only when every link has its CQE, so nothing is left in flight.
    return Promise.allSettled(promises).then((rs) => {
      const failed = rs.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      return rs.map((r) => (r as PromiseFulfilledResult<number>).value);
    });
  }

  /**
   * Submits an operation that may complete more than once (multishot accept
   * and recv, zero-copy send). `onCqe` sees every CQE; the slot is freed after
   * the one without IORING_CQE_F_MORE.
   * @internal
   */
  submitStream(op: RawOp, onCqe: CqeHandler): StreamOp {
    const s = this.#begin(op.syscall, KIND_HANDLER, undefined);
    const gen = s.gen;
    s.handler = onCqe;
    void this.#raw(s, op, undefined);
    return { cancel: () => this.#cancelSlot(s.index, gen) };
  }

  /**
   * Starts an operation the addon drives by itself (a relay: lib/ops-relay.ts).
   * `start()` registers it natively and returns the addon's id for it; its
   * end arrives as one completion record for that id (generation
   * NATIVE_GEN) and goes to `op.nativeEnd` (0 or -errno; -ECANCELED when
   * the ring is destroyed first). No slot is used: a server may run one per
   * connection. If `start` throws, nothing was started and the error
   * propagates.
   * @internal
   */
  startNative(syscall: string, start: () => number, op: NativeOp): number {
    if (this.#destroyed) throw ringClosedError(syscall);
    const id = start();
    this.#natives[id] = op;
    this.#streams++;
    return id;
  }

  /** The addon object, for registered-memory helpers. @internal */
  get handle(): NativeRing {
    if (this.#destroyed) throw ringClosedError('use the ring');
    return this.#h;
  }

  // ------------------------------------------------------------------ teardown

  /**
   * Destroys the ring. Operations not yet submitted reject with ECANCELED at
   * once; those in flight are cancelled in the kernel and reject with
   * ECANCELED (or settle with the result the kernel had already produced:
   * called from a completion callback, the other completions of that batch
   * are delivered first, with their results, before destroy() returns).
   * Memory the kernel might still touch is never released. Idempotent. Never
   * throws for a callback: an exception thrown by a completion callback
   * during the teardown is reported afterwards as an uncaught exception.
   */
  destroy(): void {
    if (this.#destroyCalled) return;
    this.#destroyCalled = true;
    // A callback that throws during the teardown must not stop it (the ring would leak): its error is
    // kept and reported afterwards as an uncaught exception, as any completion callback's is.
    let thrown: { error: unknown } | undefined;
    const guard = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        thrown ??= { error: e };
      }
    };
    // Called from a completion callback: the batch's other completions are results, not cancellations.
    // They are delivered first, while the ring still takes work (what they submit is cancelled below).
    guard(() => this.#deliverRest(this.#batch));
    this.#destroyed = true;
    // Closes that never reached the kernel are done, not cancelled (cleanup paths must not leak fds),
    // but only once the kernel has finished with everything submitted before them (below).
    const closes = this.#deferredCloses;
    for (const b of [...this.#waitingQ.takeAll(), ...this.#cappedQ.takeAll()]) {
      const s = this.#slots[b.slot];
      if (!s || !s.busy || s.gen !== b.gen) continue;
      if (s.closes >= 0) closes.push([s, s.gen]);
      else guard(() => this.#settleError(s, ECANCELED));
    }
    // Addon-driven operations first: stopped, they submit nothing new while the kernel cancels.
    for (const op of this.#natives) if (op) guard(() => op.nativeStop());
    if (this.#inflight + this.#streams > 0) {
      this.#h.cancelAll();
      // wait() delivers completions; a callback that throws stops its drain early: wait on.
      const deadline = Date.now() + 2000;
      for (;;) {
        try {
          this.#h.wait(Math.max(0, deadline - Date.now()));
          break;
        } catch (e) {
          thrown ??= { error: e };
          if (Date.now() >= deadline) break;
        }
      }
    }
    for (const [s, gen] of closes.splice(0)) {
      if (!s.busy || s.gen !== gen) continue; // settled meanwhile (its signal fired)
      if (s.aborted) {
        this.#keptOpen(s);
        guard(() => this.#settleError(s, 0)); // aborted: AbortError, and the fd is left alone
        continue;
      }
      let res = 0;
      try {
        native.closeFd(s.closes);
      } catch (e) {
        res = (e as NodeJS.ErrnoException).errno ?? -9; // close(2) failed (EBADF, EIO): its error
      }
      guard(() => this.#settle(s, res, 0));
    }
    for (let id = 0; id < this.#natives.length; id++) guard(() => this.#nativeEnd(id, -ECANCELED)); // not confirmed by the kernel
    for (const s of this.#slots) {
      if (!s.busy) continue;
      // The kernel has not confirmed this one: its memory stays referenced forever.
      graveyard.push(s.hold);
      s.hold = undefined;
      // A close still unconfirmed after the cancel is one that was already running (a waiting one is
      // cancelled at once and came back above): the fd has left the table and the kernel finishes the
      // close. ECANCELED would invite a retry that could close a reused fd number.
      if (s.closes >= 0) guard(() => this.#settle(s, 0, 0)); // aborted too: it ran (see close())
      else guard(() => this.#settleError(s, ECANCELED));
    }
    this.#h.destroy();
    if (threadRing === this) threadRing = undefined;
    if (thrown) {
      const { error } = thrown;
      process.nextTick(() => { throw error; });
    }
  }

  /** Same as {@link Ring.destroy}. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Same as {@link Ring.destroy}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.destroy();
  }

  // ------------------------------------------------------------------ internals

  #signal(options: { signal?: AbortSignal } | undefined): AbortSignal | undefined {
    if (options === undefined || options === null) return undefined;
    if (typeof options !== 'object') throw outOfRange('options', 'an object', options);
    return validateSignal(options.signal);
  }

  /** Takes a free slot and prepares it for an operation. */
  #begin(syscall: string, kind: number, signal: AbortSignal | undefined): Slot {
    if (this.#destroyed) throw ringClosedError(syscall);
    let s: Slot;
    const idx = this.#free.pop();
    if (idx === undefined) {
      s = new Slot(this.#slots.length);
      this.#slots.push(s);
    } else {
      s = this.#slots[idx]!;
    }
    s.busy = true;
    s.kind = kind;
    s.uncapped = kind === KIND_HANDLER || kind === KIND_TIMEOUT;
    s.syscall = syscall;
    s.aborted = signal !== undefined && signal.aborted;
    return s;
  }

  /** Writes the shared record for slot `s`. */
  #fill(opcode: number, fd: number, off: number, addr: number, len: number, opFlags: number, s: Slot): void {
    const r = this.#rec;
    r[R.OPCODE] = opcode;
    r[R.FLAGS] = 0;
    r[R.IOPRIO] = 0;
    r[R.FD] = fd;
    r[R.OFF] = off;
    r[R.ADDR] = addr;
    r[R.LEN] = len;
    r[R.OP_FLAGS] = opFlags;
    r[R.SLOT] = s.index;
    r[R.GEN] = s.gen;
    r[R.BUF_INDEX] = 0;
    r[R.FD_IN] = 0;
    r[R.ADDR3] = 0;
    r[R.FD_RESULT] = s.fdResult ? 1 : 0;
  }

  #raw(s: Slot, op: RawOp, signal: AbortSignal | undefined, chain = 0): Promise<number> {
    // With a file_index (fdIn) the result is a slot in the fixed-file table, not an fd.
    s.fdResult = FD_RESULT_OPS.has(op.opcode) && !op.fdIn;
    s.hold = op.hold === undefined ? [op.buf1, op.buf2, op.buf3] : [op.buf1, op.buf2, op.buf3, op.hold];
    s.path = op.path;
    s.dest = op.dest;
    if (WAITING_OPS.has(op.opcode)) s.uncapped = true;
    const r = this.#rec;
    r[R.OPCODE] = op.opcode;
    r[R.FLAGS] = op.flags ?? 0;
    r[R.IOPRIO] = op.ioprio ?? 0;
    r[R.FD] = op.fd ?? -1;
    r[R.OFF] = op.off ?? 0;
    r[R.ADDR] = op.addr ?? 0;
    r[R.LEN] = op.len ?? 0;
    r[R.OP_FLAGS] = op.opFlags ?? 0;
    r[R.SLOT] = s.index;
    r[R.GEN] = s.gen;
    r[R.BUF_INDEX] = op.bufIndex ?? 0;
    r[R.FD_IN] = op.fdIn ?? 0;
    r[R.ADDR3] = op.addr3 ?? 0;
    r[R.FD_RESULT] = s.fdResult ? 1 : 0;
    return this.#go(s, op.buf1, op.buf2, op.buf3, signal, chain) as Promise<number>;
  }

  /** Calls the addon's prep with exactly the buffers given (fewer checks in C). */
  #prep(b1: Bytes | undefined, b2: Bytes | undefined, b3: Bytes | undefined): boolean {
    const h = this.#h;
    if (b3 !== undefined) return h.prep(b1, b2, b3);
    if (b2 !== undefined) return h.prep(b1, b2);
    if (b1 !== undefined) return h.prep(b1);
    return h.prep();
  }

  /** Creates the Promise for slot `s` and hands the record to the kernel (or the backlog). */
  #go(s: Slot, b1: Bytes | undefined, b2: Bytes | undefined, b3: Bytes | undefined,
    signal: AbortSignal | undefined, chain = 0): Promise<number> {
    if (s.aborted) {
      const err = abortError(signal);
      this.#release(s);
      return Promise.reject(err);
    }
    const p = new Promise<number>((resolve, reject) => {
      s.resolve = resolve as (v: unknown) => void;
      s.reject = reject;
    });
    if (signal !== undefined) {
      const gen = s.gen;
      s.signal = signal;
      s.onAbort = () => this.#abort(s, gen);
      signal.addEventListener('abort', s.onAbort, { once: true });
    }
    // A multishot stays armed for a connection's life, and a recv, send or
    // poll may wait as long on its peer; capping those would stall everything
    // once there are more connections than CQ entries, so they are not
    // counted (the kernel's NODROP keeps any overflow).
    const uncapped = s.uncapped;
    const queue = uncapped ? this.#waitingQ : this.#cappedQ;
    // A capped op also waits while uncapped ones wait (for SQEs only, and they
    // drain first): it must not overtake, say, a send queued before a close of the same fd.
    const clear = uncapped ? this.#waitingQ.size === 0 : this.#waitingQ.size + this.#cappedQ.size === 0;
    if (clear && (uncapped || this.#inflight + chain < this.#maxInflight) &&
      (chain === 0 || this.#h.reserve(chain + 1)) && this.#prep(b1, b2, b3)) {
      this.#count(s);
    } else {
      s.queued = true;
      queue.push({ rec: this.#rec.slice(), slot: s.index, gen: s.gen, b1, b2, b3, chain });
    }
    return p;
  }

  /** read/write: validated at the edge, one slot, one record, one prep. */
  #rw(opcode: number, syscall: string, fd: number, buffer: ArrayBufferView, offset: number, length: number,
    position: number | bigint | null, options: OpOptions | undefined): Promise<number> {
    validateFd(fd);
    validateBuffer(buffer);
    validateRange(buffer, offset, length);
    const pos = toPosition(position);
    const signal = this.#signal(options);
    const s = this.#begin(syscall, KIND_VALUE, signal);
    s.hold = buffer;
    this.#fill(opcode, fd, pos, offset, length, 0, s);
    return this.#go(s, buffer, undefined, undefined, signal);
  }

  #vector(opcode: number, syscall: string, fd: number, buffers: readonly ArrayBufferView[],
    position: number | bigint | null, options: OpOptions | undefined): Promise<number> {
    validateFd(fd);
    validateBufferList(buffers);
    const pos = toPosition(position);
    const signal = this.#signal(options);
    const s = this.#begin(syscall, KIND_VALUE, signal);
    const iov = Buffer.allocUnsafe(16 * buffers.length);
    native.fillIovecs(iov, buffers);
    s.hold = [iov, buffers];
    this.#fill(opcode, fd, pos, 0, buffers.length, 0, s);
    return this.#go(s, iov, undefined, undefined, signal);
  }

  #statx(dirfd: number, pb: Buffer, flags: number, syscall: string, path: string | undefined,
    options: OpOptions | undefined): Promise<Stats> {
    const signal = this.#signal(options);
    const s = this.#begin(syscall, KIND_STAT, signal);
    const out = Buffer.alloc(STATX_SIZE);
    s.hold = [out, pb];
    s.path = path;
    // statx: addr = path, len = mask, addr2 (off) = struct statx.
    this.#fill(Op.STATX, dirfd, 0, 0, STATX_MASK, flags, s);
    return this.#go(s, pb, out, undefined, signal) as unknown as Promise<Stats>;
  }

  #sync(fd: number, flags: number, syscall: string, options: OpOptions | undefined): Promise<void> {
    validateFd(fd);
    const signal = this.#signal(options);
    const s = this.#begin(syscall, KIND_VOID, signal);
    this.#fill(Op.FSYNC, fd, 0, 0, 0, flags, s);
    return this.#go(s, undefined, undefined, undefined, signal) as Promise<never>;
  }

  #unlinkat(pb: Buffer, flags: number, syscall: string, path: string, options: OpOptions | undefined): Promise<void> {
    const signal = this.#signal(options);
    const s = this.#begin(syscall, KIND_VOID, signal);
    s.hold = pb;
    s.path = path;
    this.#fill(Op.UNLINKAT, AT_FDCWD, 0, 0, 0, flags, s);
    return this.#go(s, pb, undefined, undefined, signal) as Promise<never>;
  }

  /** The AbortSignal of slot `s` fired. */
  #abort(s: Slot, gen: number): void {
    if (!s.busy || s.gen !== gen) return;
    s.aborted = true;
    if (s.queued) {
      // Never reached the kernel: settle now; the backlog entry is skipped by generation.
      this.#keptOpen(s);
      // A chain waits whole or not at all: its other links are dropped with it, or the
      // link before this one would go out with IOSQE_IO_LINK and tie itself to an
      // unrelated SQE.
      const chain = s.chain;
      this.#settleError(s, 0);
      if (chain) {
        for (const l of chain) {
          if (l !== s && l.busy && l.queued && l.chain === chain) {
            l.aborted = true;
            this.#settleError(l, 0);
          }
        }
      }
      return;
    }
    this.#cancelSlot(s.index, gen);
  }

  /** Asks the kernel to cancel the request in `slot` (generation `gen`). */
  #cancelSlot(slot: number, gen: number): void {
    const s = this.#slots[slot];
    if (this.#destroyed || !s || !s.busy || s.gen !== gen) return;
    if (s.queued) {
      this.#settleError(s, ECANCELED);
      return;
    }
    const r = this.#rec;
    r[R.OPCODE] = Op.ASYNC_CANCEL;
    r[R.FLAGS] = 0;
    r[R.IOPRIO] = 0;
    r[R.FD] = -1;
    r[R.OFF] = 0;
    r[R.ADDR] = gen * 0x100000000 + slot; // the user_data to cancel
    r[R.LEN] = 0;
    r[R.OP_FLAGS] = 0;
    r[R.SLOT] = 0xffffffff;
    r[R.GEN] = 0;
    r[R.BUF_INDEX] = 0;
    r[R.FD_IN] = 0;
    r[R.ADDR3] = 0;
    r[R.FD_RESULT] = 0;
    // Cancels bypass the in-flight limit: they are what frees room, and the
    // kernel's NODROP keeps the rare extra CQE if the CQ is momentarily full.
    if (this.#h.prep()) {
      this.#inflight++;
    } else {
      this.#waitingQ.push({ rec: r.slice(), slot: -1, gen: 0, b1: undefined, b2: undefined, b3: undefined, chain: 0 });
    }
  }

  /** Counts slot `s` as submitted to the kernel. */
  #count(s: Slot): void {
    if (s.uncapped) this.#streams++;
    else this.#inflight++;
  }

  /** The addon delivers `n` completion records. */
  #complete(n: number, base: number): void {
    // destroy() waits for the kernel inside a callback: that delivery nests in this one (addon: upper half of #cq).
    const outer = this.#batch;
    const batch = this.#batches[base === 0 ? 0 : 1];
    batch.base = base;
    batch.end = n;
    batch.next = 0;
    this.#batch = batch;
    try {
      this.#deliverRest(batch);
    } finally {
      this.#batch = outer;
      // Even when a callback threw: what waits for room must not wait for an unrelated completion.
      if (this.#waitingQ.size + this.#cappedQ.size > 0 && !this.#destroyed) this.#drainBacklog();
    }
  }

  /**
   * Delivers the records of `batch` not yet delivered. Callbacks run; one of
   * them may call destroy(). A callback that throws does not cost the others
   * their completions: the rest are delivered, then the first error is
   * rethrown (the addon reports it as an uncaught exception).
   */
  #deliverRest(batch: Batch): void {
    let thrown: { error: unknown } | undefined;
    while (batch.next < batch.end) {
      try {
        this.#deliverFrom(batch);
      } catch (e) {
        thrown ??= { error: e };
      }
    }
    if (thrown) throw thrown.error;
  }

  /** The loop of {@link Ring.#deliverRest}; `batch.next` moves before each delivery, so a throw skips only its own. */
  #deliverFrom(batch: Batch): void {
    const cq = this.#cq;
    const slots = this.#slots;
    while (batch.next < batch.end) {
      const o = (batch.base + batch.next++) * C.FIELDS;
      const idx = cq[o + C.SLOT]!;
      cq[o + C.SLOT] = CQE_TAKEN; // before acting on it: see CQE_TAKEN
      const flags = cq[o + C.FLAGS]!;
      const last = (flags & CqeFlag.MORE) === 0;
      if (idx === INTERNAL_SLOT) {
        if (last) this.#inflight--;
        continue;
      }
      if (cq[o + C.GEN] === NATIVE_GEN) {
        this.#nativeEnd(idx, cq[o + C.RES]!);
        continue;
      }
      const s = slots[idx];
      if (s === undefined || !s.busy || s.gen !== cq[o + C.GEN]) continue;
      if (last) {
        if (s.uncapped) this.#streams--;
        else this.#inflight--;
      }
      if (this.#destroyed && s.closes >= 0 && cq[o + C.RES] === -ECANCELED && !s.aborted) {
        // destroy()'s cancel caught this close before it ran: the fd is still open; destroy() closes it.
        this.#deferredCloses.push([s, s.gen]);
        continue;
      }
      this.#settle(s, cq[o + C.RES]!, flags);
    }
  }

  /** An addon-driven operation ended (see {@link Ring.startNative}). */
  #nativeEnd(id: number, res: number): void {
    const op = this.#natives[id];
    if (op === undefined) return;
    this.#natives[id] = undefined; // before the call: the addon reuses the id once it is told
    this.#streams--;
    op.nativeEnd(res);
  }

  #settle(s: Slot, res: number, flags: number): void {
    if (s.kind === KIND_HANDLER) {
      const h = s.handler!;
      if ((flags & CqeFlag.MORE) === 0) this.#release(s);
      h(res, flags);
      return;
    }
    if (s.aborted) {
      if (s.closes >= 0 && res !== -ECANCELED) {
        // The close ran before the cancel took: the fd is gone, and the caller hears so (not AbortError).
        s.aborted = false;
      } else {
        // The kernel finished before the cancel took: a new fd nobody will own is closed.
        if (s.fdResult && res >= 0) {
          try { native.closeFd(res); } catch { /* already gone */ }
        }
        this.#keptOpen(s);
        this.#settleError(s, 0);
        return;
      }
    }
    const resolve = s.resolve!;
    switch (s.kind) {
      case KIND_VALUE:
        if (res < 0) return this.#settleError(s, -res);
        this.#release(s);
        resolve(res);
        return;
      case KIND_VOID:
        if (res < 0) return this.#settleError(s, -res);
        this.#release(s);
        resolve(undefined);
        return;
      case KIND_STAT: {
        if (res < 0) return this.#settleError(s, -res);
        const out = (s.hold as Buffer[])[0]!;
        this.#release(s);
        resolve(new Stats(out));
        return;
      }
      case KIND_TIMEOUT:
        if (res < 0 && res !== -ETIME) return this.#settleError(s, -res);
        this.#release(s);
        resolve(undefined);
        return;
      default: // KIND_RAW
        this.#release(s);
        resolve(res);
    }
  }

  /** Slot `s`, if a close, ends without having run: its fd is open and, if it was adopted, adopted again. */
  #keptOpen(s: Slot): void {
    if (s.closes >= 0 && s.closeAdopted) native.adoptFd(s.closes);
  }

  /** Rejects slot `s`: errno 0 means "aborted by its signal". */
  #settleError(s: Slot, errno: number): void {
    const reject = s.reject;
    const handler = s.handler;
    const err = errno === 0 || s.aborted ? abortError(s.signal) : uringError(errno, s.syscall, s.path, s.dest);
    const kind = s.kind;
    this.#release(s);
    if (kind === KIND_HANDLER) {
      if (handler) handler(-(errno || ECANCELED), 0);
    } else if (reject) {
      reject(err);
    }
  }

  #release(s: Slot): void {
    if (s.signal !== undefined && s.onAbort !== undefined) s.signal.removeEventListener('abort', s.onAbort);
    s.busy = false;
    s.queued = false;
    s.aborted = false;
    s.gen = (s.gen + 1) & GEN_MASK;
    s.resolve = undefined;
    s.reject = undefined;
    s.handler = undefined;
    s.hold = undefined;
    s.path = undefined;
    s.dest = undefined;
    s.signal = undefined;
    s.onAbort = undefined;
    s.fdResult = false;
    s.closes = -1;
    s.closeAdopted = false;
    s.chain = undefined;
    this.#free.push(s.index);
  }

  /**
   * Moves backlogged operations to the kernel: the uncapped queue while SQEs
   * are free, then the capped one while the CQ also has room.
   */
  #drainBacklog(): void {
    if (this.#drainQueue(this.#waitingQ)) this.#drainQueue(this.#cappedQ);
  }

  /** Submits from `q` in order; false when the SQ ran out of room (stop draining). */
  #drainQueue(q: Backlog): boolean {
    for (let b = q.peek(); b !== undefined; b = q.peek()) {
      const internal = b.slot === -1;
      const s = internal ? undefined : this.#slots[b.slot];
      if (!internal && (!s || !s.busy || s.gen !== b.gen || !s.queued)) {
        q.shift(); // settled while waiting (aborted)
        continue;
      }
      if (s && !s.uncapped && this.#inflight + b.chain >= this.#maxInflight) return true;
      if (b.chain > 0 && !this.#h.reserve(b.chain + 1)) return false;
      this.#rec.set(b.rec);
      // A close leaves the owned set before it can run (see close()): after it ran, the number may be reused.
      const closeAdopted = s !== undefined && s.closes >= 0 && s.closeAdopted;
      if (closeAdopted) native.releaseFd(s.closes);
      if (!this.#prep(b.b1, b.b2, b.b3)) {
        if (closeAdopted) native.adoptFd(s.closes);
        return false;
      }
      if (s) {
        this.#count(s);
        s.queued = false;
      } else {
        this.#inflight++;
      }
      q.shift();
    }
    return true;
  }
}

let threadRing: Ring | undefined;

/** Kernel version that introduced an opcode, for messages such as "needs Linux 6.0". */
export function opcodeSince(op: OpName): string {
  return OP_SINCE[op];
}
