/**
 * FileHandle: an open file owned by one object, shaped like node:fs/promises'
 * FileHandle. On the io_uring backend every operation goes through the
 * thread's ring; on the node backend the handle wraps Node's own FileHandle.
 *
 * Like Node's, a handle counts the operations in flight: close() waits for
 * them before the descriptor is released (so a reused fd number never sees a
 * late read); operations started while it waits still run, as in Node, and
 * operations after the close reject with EBADF ('file closed').
 *
 * On a regular file, operations at the file position (a null or negative
 * position, and the whole-file methods) run one at a time, in the order
 * they were called ({@link PositionQueue}): the kernel does that for
 * read(2), not for io_uring. Operations at explicit offsets run at once, and
 * so does everything on pipes, sockets and devices, which have no position
 * (a read waiting for a pipe's data must not hold up a write to it).
 *
 * A handle that is garbage-collected without close() has its fd closed
 * then, with Node's warnings, so a forgotten close() does not leak the fd.
 */
import type { FileHandle as NodeFileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import type { FileStats } from '../fs';
import { fstat as nodeFstat } from 'node:fs';
import { promisify } from 'node:util';
import type { Ring } from '../ring';
import { invalidArgType, invalidArgValue, outOfRange } from '../errors';
import { encodingOf, fileClosedError, getOptions, invalidData, isCustomIterable, validateInteger } from './args';
import { readWholeFd } from './read-file';
import { writeWholeFd } from './write-file';
import { PositionQueue } from './position-queue';
import { ftruncateFd } from './truncate';
import { validateSignal } from '../validate';
import { native } from '../native';

const fstatBigint = promisify(nodeFstat) as (fd: number, o: { bigint: true }) => Promise<BigIntStats>;

/** Result of {@link FileHandle.read}. */
export interface FileReadResult<T extends ArrayBufferView> {
  /** Bytes read (0 at end of file). */
  bytesRead: number;
  /** The buffer read into. */
  buffer: T;
}

/** Result of {@link FileHandle.write}. */
export interface FileWriteResult<T> {
  /** Bytes written. */
  bytesWritten: number;
  /** The buffer or string written. */
  buffer: T;
}

/** Result of {@link FileHandle.readv}. */
export interface ReadVResult {
  /** Bytes read. */
  bytesRead: number;
  /** The buffers read into. */
  buffers: ArrayBufferView[];
}

/** Result of {@link FileHandle.writev}. */
export interface WriteVResult {
  /** Bytes written. */
  bytesWritten: number;
  /** The buffers written. */
  buffers: ArrayBufferView[];
}

/** Options of {@link FileHandle.read} in its object forms. */
export interface FileReadOptions<T extends ArrayBufferView = Buffer> {
  /** Buffer to fill (default: a new 16 KiB Buffer). */
  buffer?: T;
  /** Where in `buffer` to start (default 0). */
  offset?: number | null;
  /** Bytes to read (default: the rest of `buffer`). */
  length?: number | null;
  /** File offset; null or negative reads at the file position. */
  position?: number | bigint | null;
}

/** Options of the whole-file methods. */
export interface ReadFileOptions {
  /** Decode the bytes to a string. */
  encoding?: BufferEncoding | null;
  /** Aborts between reads. */
  signal?: AbortSignal;
  /** Ignored by the handle form (Node accepts it for the path form). */
  flag?: string | number;
}

/** Options of {@link FileHandle.writeFile} and {@link FileHandle.appendFile}. */
export interface WriteFileOptions {
  /** Encoding of string data (default utf8). */
  encoding?: BufferEncoding | null;
  /** Aborts between writes. */
  signal?: AbortSignal;
  /** Mode for a created file (path form only). */
  mode?: number | string;
  /** Open flags (path form only). */
  flag?: string | number;
  /** fsync the file before closing it (path form only; Node 20.10+). */
  flush?: boolean;
}

/** Data that writeFile/appendFile take. */
export type WriteData = string | ArrayBufferView | Iterable<string | ArrayBufferView> |
  AsyncIterable<string | ArrayBufferView>;

/** Offsets Node treats as "the current file position": anything but a safe integer >= 0. */
function pos(p: unknown): number {
  return typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 ? p : -1;
}

function validateBufferArray(v: unknown): asserts v is ArrayBufferView[] {
  if (!Array.isArray(v) || !v.every((b) => ArrayBuffer.isView(b))) {
    throw invalidArgType('buffers', 'an ArrayBufferView[]', v);
  }
}

let deprecationShown = false;

/**
 * Closes the fd of a FileHandle collected while still open, and warns as
 * Node does (a Warning per fd, DEP0137 once). native.closeFd releases the fd
 * from the thread's adopted set before closing it, so teardown never closes
 * the number again once another file has it. close() unregisters the handle
 * before its fd is closed: this never runs for an fd the handle let go of.
 */
const unclosed = new FinalizationRegistry<number>((fd) => {
  try {
    native.closeFd(fd);
  } catch {
    // Closed behind the handle's back (fs.closeSync(fh.fd)): nothing left to close.
  }
  process.emitWarning(`Closing file descriptor ${fd} on garbage collection`);
  if (!deprecationShown) {
    deprecationShown = true;
    process.emitWarning('Closing a FileHandle object on garbage collection is deprecated. Please close ' +
      'FileHandle objects explicitly using FileHandle.prototype.close(). In the future, an error will be ' +
      'thrown if a file descriptor is closed during garbage collection.', 'DeprecationWarning', 'DEP0137');
  }
});

/**
 * An open file. Get one from `open()`; release it with {@link FileHandle.close}
 * or `await using`. Methods and results follow node:fs/promises' FileHandle.
 */
export class FileHandle {
  #fd: number;
  readonly #ring: Ring | undefined;
  readonly #node: NodeFileHandle | undefined;
  #refs = 1;
  #closing: Promise<void> | undefined;
  #closeNow: (() => void) | undefined;
  /**
   * The turns of operations at the file position: a queue for a regular
   * file, null where there is no position to protect, undefined until the
   * first such operation has looked (one fstat, in {@link FileHandle.#learnTurns}).
   */
  #turns: PositionQueue | null | undefined;
  #learning: Promise<PositionQueue | null> | undefined;

  /** @internal Wraps `fd` on `ring`, or Node's handle on the node backend. */
  constructor(fd: number, ring: Ring | undefined, node?: NodeFileHandle) {
    this.#fd = fd;
    this.#ring = ring;
    this.#node = node;
    // Node's own handle (node backend) closes itself when collected.
    if (ring && fd >= 0) unclosed.register(this, fd, this);
  }

  /** The file descriptor; -1 once closed. */
  get fd(): number {
    return this.#node ? this.#node.fd : this.#fd;
  }

  /** @internal Node's handle when the node backend is in use. */
  get nodeHandle(): NodeFileHandle | undefined {
    return this.#node;
  }

  /** Forwards a call to Node's FileHandle (node backend). */
  #nodeCall(name: string, ...args: unknown[]): Promise<never> {
    const h = this.#node as unknown as Record<string, (...a: unknown[]) => Promise<never>>;
    return h[name]!(...args);
  }

  /** Runs `fn` with the fd, counting it as in flight (Node's fsCall). */
  async #call<T>(syscall: string, fn: (ring: Ring, fd: number) => Promise<T>): Promise<T> {
    if (this.#fd === -1) throw fileClosedError(syscall);
    this.#refs++;
    try {
      return await fn(this.#ring!, this.#fd);
    } finally {
      if (--this.#refs === 0 && this.#closeNow) this.#closeNow();
    }
  }

  /**
   * {@link FileHandle.#call}, and when `position` is -1 (the file position)
   * in its turn after the other operations at the file position.
   */
  #callAt<T>(syscall: string, position: number, fn: (ring: Ring, fd: number) => Promise<T>): Promise<T> {
    if (position !== -1) return this.#call(syscall, fn);
    // Queued inside #call: a waiting operation counts as in flight, so close() waits for it.
    return this.#call(syscall, (ring, fd) => this.#inTurn(ring, fd, () => fn(ring, fd)));
  }

  /**
   * Runs `fn`, which uses the file position, in its turn (see
   * {@link PositionQueue.run} for `signal`). Call only inside {@link #call}.
   */
  async #inTurn<T>(ring: Ring, fd: number, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const turns = this.#turns !== undefined ? this.#turns : await this.#learnTurns(ring, fd);
    return turns ? turns.run(fn, signal) : fn();
  }

  /**
   * Whether the position needs turns: only regular files and directories
   * have one (the files whose read(2) takes the position lock). If fstat
   * fails, turns are taken: a wrong position would corrupt data silently.
   */
  #learnTurns(ring: Ring, fd: number): Promise<PositionQueue | null> {
    return this.#learning ??= ring.fstat(fd).then((st) => st.isFile() || st.isDirectory(), () => true)
      .then((positioned) => (this.#turns = positioned ? new PositionQueue() : null));
  }

  /**
   * Reads into a buffer: `read(buffer, offset?, length?, position?)`,
   * `read(buffer, { offset, length, position })` or
   * `read({ buffer, offset, length, position })`. A null or negative
   * position reads at (and advances) the file position.
   */
  read<T extends ArrayBufferView = Buffer>(buffer: T, offset?: number | null, length?: number | null,
    position?: number | bigint | null): Promise<FileReadResult<T>>;
  read<T extends ArrayBufferView = Buffer>(buffer: T, options?: FileReadOptions<T>): Promise<FileReadResult<T>>;
  read<T extends ArrayBufferView = Buffer>(options?: FileReadOptions<T>): Promise<FileReadResult<T>>;
  async read<T extends ArrayBufferView>(a?: unknown, b?: unknown, c?: unknown, d?: unknown): Promise<FileReadResult<T>> {
    if (this.#node) return this.#nodeCall('read', a as T, b as number, c as number, d as number);
    let buffer = a as T;
    let offset = b;
    let length = c;
    let position = d;
    if (!ArrayBuffer.isView(buffer)) {
      if (a !== undefined && (a === null || typeof a !== 'object')) {
        if (a !== null) throw invalidArgType('options', 'of type object', a);
      }
      const o = (a ?? {}) as FileReadOptions<T>;
      buffer = (o.buffer ?? Buffer.alloc(16384)) as T;
      offset = o.offset ?? 0;
      length = o.length ?? buffer.byteLength - (offset as number);
      position = o.position ?? null;
      if (!ArrayBuffer.isView(buffer)) {
        throw invalidArgType('buffer', 'an instance of Buffer, TypedArray, or DataView', buffer);
      }
    }
    if (offset !== null && typeof offset === 'object') {
      const o = offset as FileReadOptions<T>;
      offset = o.offset ?? 0;
      length = o.length ?? buffer.byteLength - (offset as number);
      position = o.position ?? null;
    }
    if (offset === undefined || offset === null) offset = 0;
    else validateInteger(offset, 'offset', 0);
    const len = length === undefined || length === null ? buffer.byteLength - (offset as number) : (length as number) | 0;
    if (len === 0) return { bytesRead: 0, buffer };
    if (buffer.byteLength === 0) throw invalidArgValue('buffer', 'is empty and cannot be written', buffer);
    const off = offset as number;
    if (len < 0) throw outOfRange('length', '>= 0', len);
    if (off + len > buffer.byteLength) throw outOfRange('length', `<= ${buffer.byteLength - off}`, len);
    const p = pos(position);
    const bytesRead = await this.#callAt('read', p, (ring, fd) => ring.read(fd, buffer, off, len, p));
    return { bytesRead, buffer };
  }

  /**
   * Writes `buffer[offset..offset+length]` at `position` (`write(buffer,
   * offset?, length?, position?)` or `write(buffer, { offset, length, position })`),
   * or a string: `write(string, position?, encoding?)`. One write(2): the
   * result may be short, as in Node.
   */
  write<T extends ArrayBufferView>(buffer: T, offset?: number | null, length?: number | null,
    position?: number | null): Promise<FileWriteResult<T>>;
  write<T extends ArrayBufferView>(buffer: T, options?: { offset?: number; length?: number; position?: number | null }):
    Promise<FileWriteResult<T>>;
  write(data: string, position?: number | null, encoding?: BufferEncoding | null): Promise<FileWriteResult<string>>;
  async write(a: unknown, b?: unknown, c?: unknown, d?: unknown): Promise<FileWriteResult<unknown>> {
    if (this.#node) {
      return this.#nodeCall('write', a as Buffer, b as number, c as number, d as number);
    }
    if ((a as { byteLength?: number } | null)?.byteLength === 0) return { bytesWritten: 0, buffer: a };
    if (ArrayBuffer.isView(a)) {
      let offset = b;
      let length = c;
      let position = d;
      if (typeof offset === 'object') {
        const o = (offset ?? {}) as { offset?: number; length?: number; position?: number | null };
        offset = o.offset ?? 0;
        length = o.length ?? a.byteLength - (offset as number);
        position = o.position ?? null;
      }
      if (offset === undefined || offset === null) offset = 0;
      else validateInteger(offset, 'offset', 0);
      const off = offset as number;
      if (typeof length !== 'number') length = a.byteLength - off;
      const len = length as number;
      if (off > a.byteLength) throw outOfRange('offset', `<= ${a.byteLength}`, off);
      if (len > a.byteLength - off) throw outOfRange('length', `<= ${a.byteLength - off}`, len);
      if (len < 0) throw outOfRange('length', '>= 0', len);
      validateInteger(len, 'length', 0, 0x7fffffff);
      const p = pos(position);
      const bytesWritten = await this.#callAt('write', p, (ring, fd) => ring.write(fd, a, off, len, p));
      return { bytesWritten, buffer: a };
    }
    if (typeof a !== 'string') throw invalidData('buffer', a);
    const enc = typeof c === 'string' && Buffer.isEncoding(c) ? c : 'utf8';
    const bytes = Buffer.from(a, enc);
    const p = pos(b);
    const bytesWritten = await this.#callAt('write', p, (ring, fd) => ring.write(fd, bytes, 0, bytes.length, p));
    return { bytesWritten, buffer: a };
  }

  /** Scatter read into `buffers` (readv(2)) at `position` (default: the file position). */
  async readv(buffers: ArrayBufferView[], position?: number | null): Promise<ReadVResult> {
    if (this.#node) return this.#nodeCall('readv', buffers, position ?? null);
    validateBufferArray(buffers);
    const p = pos(position);
    const bytesRead = await this.#callAt('readv', p, (ring, fd) =>
      buffers.length === 0 ? Promise.resolve(0) : ring.readv(fd, buffers, p));
    return { bytesRead, buffers };
  }

  /** Gather write of `buffers` (writev(2)) at `position` (default: the file position). One system call. */
  async writev(buffers: ArrayBufferView[], position?: number | null): Promise<WriteVResult> {
    if (this.#node) return this.#nodeCall('writev', buffers, position ?? null);
    validateBufferArray(buffers);
    if (buffers.length === 0) return { bytesWritten: 0, buffers };
    const p = pos(position);
    const bytesWritten = await this.#callAt('writev', p, (ring, fd) => ring.writev(fd, buffers, p));
    return { bytesWritten, buffers };
  }

  /** File status (statx(2) on the fd). `{ bigint: true }` is answered by node:fs (libuv's thread pool). */
  stat(options?: { bigint?: false }): Promise<FileStats>;
  stat(options: { bigint: true }): Promise<BigIntStats>;
  async stat(options?: { bigint?: boolean }): Promise<FileStats | BigIntStats> {
    if (this.#node) return this.#nodeCall('stat', options as { bigint: true });
    if (options?.bigint) return this.#call('fstat', (_ring, fd) => fstatBigint(fd, { bigint: true }));
    return this.#call('fstat', (ring, fd) => ring.fstat(fd));
  }

  /**
   * Truncates or extends the file to `len` bytes (negative counts as 0).
   * IORING_OP_FTRUNCATE on Linux 6.9+, else node:fs (libuv's thread pool).
   */
  async truncate(len = 0): Promise<void> {
    if (this.#node) return this.#nodeCall('truncate', len);
    validateInteger(len, 'len');
    const n = Math.max(0, len);
    return this.#call('ftruncate', (ring, fd) => ftruncateFd(ring, fd, n));
  }

  /** Flushes data and metadata to the device (fsync(2)). */
  async sync(): Promise<void> {
    if (this.#node) return this.#nodeCall('sync');
    return this.#call('fsync', (ring, fd) => ring.fsync(fd));
  }

  /** Flushes data, and the metadata needed to read it (fdatasync(2)). */
  async datasync(): Promise<void> {
    if (this.#node) return this.#nodeCall('datasync');
    return this.#call('fdatasync', (ring, fd) => ring.fdatasync(fd));
  }

  /**
   * Reads from the file position to the end of the file; with an encoding
   * (a string, or `{ encoding }`) resolves with a string.
   */
  readFile(options?: ReadFileOptions & { encoding?: null } | null): Promise<Buffer>;
  readFile(options: ReadFileOptions & { encoding: BufferEncoding } | BufferEncoding): Promise<string>;
  readFile(options?: ReadFileOptions | BufferEncoding | null): Promise<Buffer | string>;
  async readFile(options?: ReadFileOptions | BufferEncoding | null): Promise<Buffer | string> {
    if (this.#node) return this.#nodeCall('readFile', options as ReadFileOptions);
    const o = getOptions(options, { flag: 'r' } as ReadFileOptions);
    const enc = encodingOf(o);
    return this.#call('readFile', (ring, fd) => {
      const signal = validateSignal(o.signal);
      return this.#inTurn(ring, fd, () => readWholeFd(ring, fd, enc, signal), signal);
    });
  }

  /** Writes all of `data` at the file position (continuing short writes). */
  async writeFile(data: WriteData, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    return this.#writeFile('writeFile', data, options);
  }

  /** Same as {@link FileHandle.writeFile}: with a handle opened in append mode, it appends. */
  async appendFile(data: WriteData, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    return this.#writeFile('writeFile', data, options);
  }

  async #writeFile(syscall: string, data: WriteData, options?: WriteFileOptions | BufferEncoding | null): Promise<void> {
    if (this.#node) return this.#nodeCall('writeFile', data, options as WriteFileOptions);
    const o = getOptions(options, { encoding: 'utf8' } as WriteFileOptions);
    const enc = encodingOf(o) ?? 'utf8';
    let bytes: ArrayBufferView | Iterable<unknown> | AsyncIterable<unknown>;
    if (ArrayBuffer.isView(data) || isCustomIterable(data)) bytes = data;
    else if (typeof data === 'string') bytes = Buffer.from(data, enc);
    else throw invalidData('data', data);
    return this.#call(syscall, (ring, fd) => {
      const signal = validateSignal(o.signal);
      // An iterable's items are written each in its own turn (see writeWholeFd).
      return writeWholeFd(ring, fd, bytes, enc, signal, (write) => this.#inTurn(ring, fd, write, signal));
    });
  }

  /**
   * Closes the file once the operations in flight have finished. Closing a
   * closed handle resolves at once; a second close() while the first runs
   * shares its Promise.
   */
  close(): Promise<void> {
    if (this.#node) return this.#nodeCall('close');
    if (this.#fd === -1) return Promise.resolve();
    if (this.#closing) return this.#closing;
    const fd = this.#fd;
    const ring = this.#ring!;
    const release = (): Promise<void> => {
      this.#fd = -1;
      unclosed.unregister(this);
      return ring.close(fd);
    };
    if (--this.#refs === 0) {
      this.#closing = release();
    } else {
      this.#closing = new Promise<void>((resolve) => {
        this.#closeNow = resolve;
      }).then(release);
    }
    const done = this.#closing.finally(() => {
      this.#closing = undefined;
      this.#closeNow = undefined;
    });
    this.#closing = done;
    return done;
  }

  /** Same as {@link FileHandle.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
