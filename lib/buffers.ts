/**
 * A pool of registered ("fixed") buffers: one aligned allocation registered
 * with the ring (IORING_REGISTER_BUFFERS) and handed out piece by piece.
 * Reads and writes into these buffers ({@link Ring.readFixed},
 * {@link Ring.writeFixed}) name the buffer by index, so the kernel skips
 * pinning and mapping the pages on every operation; the alignment makes them
 * usable for O_DIRECT.
 *
 * The memory is owned jointly by the ring and by JavaScript: a Buffer taken
 * from the pool stays valid memory even after the pool is closed or the ring
 * destroyed, and is freed only when neither uses it.
 */
import { native } from './native';
import type { Ring } from './ring';
import { uringError } from './errors';
import { validateInt } from './validate';

/** Options for {@link BufferPool}. */
export interface BufferPoolOptions {
  /** Number of buffers (1 to 16384, the kernel's limit). */
  count: number;
  /** Bytes per buffer (a multiple of `alignment`, at most 1 GiB). */
  size: number;
  /** Alignment of every buffer's first byte, a power of two from 8 to 2 MiB (default 4096). */
  alignment?: number;
}

/** Error codes this module raises. */
export const BufferErrorCode = {
  /** The FixedBuffer was released (or its pool closed) and may not be used. */
  RELEASED: 'ERR_FIXED_BUFFER_RELEASED',
  /** The FixedBuffer belongs to another pool (or another ring). */
  FOREIGN: 'ERR_FIXED_BUFFER_FOREIGN',
  /** The FixedBuffer is still used by an operation in flight. */
  BUSY: 'ERR_FIXED_BUFFER_BUSY',
  /** Every buffer of the pool is handed out. */
  EXHAUSTED: 'ERR_BUFFER_POOL_EXHAUSTED',
  /** The pool was closed. */
  CLOSED: 'ERR_BUFFER_POOL_CLOSED',
  /** The ring already has a pool registered. */
  ALREADY_REGISTERED: 'ERR_BUFFERS_ALREADY_REGISTERED',
} as const;

/** An Error with one of the {@link BufferErrorCode} codes. */
export interface BufferPoolError extends Error {
  /** One of {@link BufferErrorCode}'s values. */
  code: (typeof BufferErrorCode)[keyof typeof BufferErrorCode];
}

function poolError(code: BufferPoolError['code'], message: string): BufferPoolError {
  const err = new Error(message) as BufferPoolError;
  err.code = code;
  return err;
}

/**
 * One buffer handed out by a {@link BufferPool}: a Buffer over registered
 * memory and its registered index. Valid from `acquire()` to `release()`.
 */
export class FixedBuffer {
  /** The registered memory (a view, `pool.size` bytes long). */
  readonly buffer: Buffer;
  /** Registered buffer index (the SQE's buf_index). */
  readonly index: number;
  /** The pool it came from. */
  readonly pool: BufferPool;
  #released = false;
  #inflight = 0;

  /** @internal Only {@link BufferPool.acquire} makes these. */
  constructor(pool: BufferPool, index: number, buffer: Buffer) {
    this.pool = pool;
    this.index = index;
    this.buffer = buffer;
  }

  /** Whether the buffer was released (or its pool closed): it may no longer be used. */
  get released(): boolean {
    return this.#released || this.pool.closed;
  }

  /** Operations in flight that use this buffer. */
  get inflight(): number {
    return this.#inflight;
  }

  /** @internal */
  markReleased(): void {
    this.#released = true;
  }

  /**
   * Throws unless this buffer may be used for an operation on `ring`.
   * @internal
   */
  check(ring: Ring, name: string): void {
    if (this.released) {
      throw poolError(BufferErrorCode.RELEASED,
        `The FixedBuffer "${name}" (index ${this.index}) was released ${this.pool.closed ?
          'when its pool closed (or its ring was destroyed)' : 'to its pool'}; acquire a new one.`);
    }
    if (this.pool.ring !== ring) {
      throw poolError(BufferErrorCode.FOREIGN,
        `The FixedBuffer "${name}" is registered with another ring; use the ring its BufferPool was made for.`);
    }
  }

  /**
   * Counts an operation using this buffer until `p` settles (a buffer in use
   * cannot be released); `mapError` may rewrite a failure.
   * @internal
   */
  track<T>(p: Promise<T>, mapError?: (e: unknown) => unknown): Promise<T> {
    this.#inflight++;
    return p.then(
      (v) => { this.#inflight--; return v; },
      (e: unknown) => { this.#inflight--; throw mapError ? mapError(e) : e; },
    );
  }
}

/** Rings that have a pool registered (the kernel allows one registration per ring). */
const registered = new WeakMap<Ring, BufferPool>();

/**
 * Registered buffers for one ring. A ring holds at most one registration at
 * a time: close a pool before making another on the same ring.
 *
 * @example
 * ```ts
 * const pool = new BufferPool(ring, { count: 32, size: 4096 });
 * const fb = pool.acquire();
 * const n = await ring.readFixed(fd, fb, 0, 4096, 0);
 * console.log(fb.buffer.subarray(0, n));
 * pool.release(fb);
 * ```
 */
export class BufferPool {
  /** The ring the memory is registered with. */
  readonly ring: Ring;
  /** Number of buffers. */
  readonly count: number;
  /** Bytes per buffer. */
  readonly size: number;
  /** Alignment of each buffer's first byte. */
  readonly alignment: number;
  readonly #views: Buffer[] = [];
  readonly #addrLow: Float64Array;
  readonly #owner: (FixedBuffer | undefined)[];
  readonly #free: number[] = [];
  #closed = false;

  /**
   * Allocates `count * size` bytes aligned to `alignment` and registers them.
   * @throws TypeError/RangeError for bad options; a Node-shaped error (ENOMEM
   * with an explanation of RLIMIT_MEMLOCK) when the kernel refuses;
   * `ERR_BUFFERS_ALREADY_REGISTERED` when the ring already has an open pool.
   */
  constructor(ring: Ring, options: BufferPoolOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('The "options" argument must be an object with count and size.');
    }
    const alignment = options.alignment ?? 4096;
    validateInt(options.count, 'options.count', 1, 16384);
    validateInt(alignment, 'options.alignment', 8, 2 * 1024 * 1024);
    if ((alignment & (alignment - 1)) !== 0) {
      const err = new RangeError(`The value of "options.alignment" must be a power of two. Received ${alignment}`);
      (err as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
      throw err;
    }
    validateInt(options.size, 'options.size', alignment, 1 << 30);
    if (options.size % alignment !== 0) {
      const err = new RangeError(`The value of "options.size" must be a multiple of options.alignment ` +
        `(${alignment}) so that every buffer starts aligned. Received ${options.size}`);
      (err as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
      throw err;
    }
    if (registered.has(ring) && !registered.get(ring)!.closed) {
      throw poolError(BufferErrorCode.ALREADY_REGISTERED,
        'This ring already has a BufferPool registered (the kernel allows one buffer registration per ring); ' +
        'close it first or share it.');
    }
    const h = ring.handle;
    let ab: ArrayBuffer;
    try {
      ab = h.registerBuffers(options.count, options.size, alignment);
    } catch (e) {
      const err = e as { errno?: number; syscall?: string };
      if (typeof err.errno === 'number') {
        const errno = Math.abs(err.errno);
        const syscall = err.syscall ?? 'io_uring_register';
        const out = uringError(errno, syscall);
        if (out.code === 'ENOMEM' && syscall !== 'io_uring_register') {
          out.message += `: could not allocate the pool's ${options.count * options.size} bytes; free memory, ` +
            'raise the address-space limit (`ulimit -v`) or ask for fewer or smaller buffers';
        } else if (out.code === 'ENOMEM') {
          out.message += ': registered buffers count against RLIMIT_MEMLOCK (`ulimit -l`) for users without ' +
            `CAP_IPC_LOCK; raise the limit or register fewer bytes (asked for ${options.count * options.size})`;
        }
        throw out;
      }
      throw e;
    }
    this.ring = ring;
    this.count = options.count;
    this.size = options.size;
    this.alignment = alignment;
    this.#owner = new Array<FixedBuffer | undefined>(options.count).fill(undefined);
    this.#addrLow = new Float64Array(options.count);
    const base = Number(native.addressOf(ab) & 0xffffffffn);
    for (let i = 0; i < options.count; i++) {
      this.#views.push(Buffer.from(ab, i * options.size, options.size));
      this.#addrLow[i] = (base + i * options.size) % 2 ** 32;
    }
    for (let i = options.count - 1; i >= 0; i--) this.#free.push(i);
    registered.set(ring, this);
  }

  /** Whether {@link BufferPool.close} was called (or the ring destroyed). */
  get closed(): boolean {
    return this.#closed || this.ring.destroyed;
  }

  /** Buffers available to {@link BufferPool.acquire}. */
  get available(): number {
    return this.closed ? 0 : this.#free.length;
  }

  /**
   * Takes a free buffer. Its contents are whatever the last user left.
   * @throws an `ERR_BUFFER_POOL_EXHAUSTED` error when all are handed out,
   * `ERR_BUFFER_POOL_CLOSED` after {@link BufferPool.close}.
   */
  acquire(): FixedBuffer {
    if (this.closed) throw poolError(BufferErrorCode.CLOSED, 'The BufferPool is closed (or its ring destroyed).');
    const i = this.#free.pop();
    if (i === undefined) {
      throw poolError(BufferErrorCode.EXHAUSTED,
        `All ${this.count} buffers of the BufferPool are in use; release one first or make a larger pool.`);
    }
    const fb = new FixedBuffer(this, i, this.#views[i]!);
    this.#owner[i] = fb;
    return fb;
  }

  /**
   * Returns a buffer to the pool. The FixedBuffer (and any copy of its
   * `buffer` kept for I/O) must not be used afterwards.
   * @throws `ERR_FIXED_BUFFER_RELEASED` on a second release,
   * `ERR_FIXED_BUFFER_FOREIGN` for a buffer from another pool,
   * `ERR_FIXED_BUFFER_BUSY` while an operation on it is in flight.
   */
  release(fb: FixedBuffer): void {
    if (!(fb instanceof FixedBuffer)) {
      throw new TypeError('The "fb" argument must be a FixedBuffer from BufferPool.acquire().');
    }
    if (fb.pool !== this) {
      throw poolError(BufferErrorCode.FOREIGN, `The FixedBuffer (index ${fb.index}) belongs to another BufferPool.`);
    }
    if (this.#owner[fb.index] !== fb) {
      throw poolError(BufferErrorCode.RELEASED, `The FixedBuffer (index ${fb.index}) was already released.`);
    }
    if (fb.inflight > 0) {
      throw poolError(BufferErrorCode.BUSY, `The FixedBuffer (index ${fb.index}) is used by ${fb.inflight} ` +
        'operation(s) in flight; await them before releasing it.');
    }
    fb.markReleased();
    this.#owner[fb.index] = undefined;
    if (!this.closed) this.#free.push(fb.index);
  }

  /**
   * Unregisters the memory from the ring. Every FixedBuffer becomes
   * unusable for I/O; Buffers still referenced stay valid memory.
   * Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let i = 0; i < this.#owner.length; i++) {
      this.#owner[i]?.markReleased();
      this.#owner[i] = undefined;
    }
    this.#free.length = 0;
    if (registered.get(this.ring) === this) registered.delete(this.ring);
    if (!this.ring.destroyed) this.ring.handle.unregisterBuffers();
  }

  /** Same as {@link BufferPool.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The address of buffer `index` modulo 2^32 (for alignment checks). @internal */
  addressLow(index: number): number {
    return this.#addrLow[index]!;
  }
}
