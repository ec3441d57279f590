/**
 * Argument handling shared by the fs facade, following node:fs/promises:
 * options objects or encoding strings, encodings, integers, abort checks.
 * @internal
 */
import { abortError, invalidArgType, invalidArgValue, outOfRange } from '../errors';
import { validateSignal } from '../validate';

/** Options every whole-file function accepts. */
export interface AbortOptions {
  /** Aborts the operation between steps; the Promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Node's getOptions: `undefined`, `null` or a function give the defaults, a
 * string is the encoding, an object is merged over the defaults; anything
 * else is ERR_INVALID_ARG_TYPE. The encoding is validated.
 */
export function getOptions<T extends object>(options: unknown, defaults: T): T & { encoding?: BufferEncoding | null | 'buffer' } {
  let out: T & { encoding?: BufferEncoding | null | 'buffer' };
  if (options === undefined || options === null || typeof options === 'function') {
    out = { ...defaults };
  } else if (typeof options === 'string') {
    out = { ...defaults, encoding: options as BufferEncoding };
  } else if (typeof options !== 'object') {
    throw invalidArgType('options', 'one of type string or object', options);
  } else {
    out = { ...defaults, ...(options as object) } as T;
  }
  const enc = out.encoding;
  if (enc !== undefined && enc !== null && enc !== 'buffer') assertEncoding(enc);
  return out;
}

/** Throws Node's ERR_INVALID_ARG_VALUE unless `encoding` is one Buffer knows. */
export function assertEncoding(encoding: unknown): asserts encoding is BufferEncoding {
  if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) {
    throw invalidArgValue('encoding', 'is invalid encoding', encoding);
  }
}

/** Node's validateInteger: a safe integer in [min, max]. */
export function validateInteger(v: unknown, name: string, min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER): asserts v is number {
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v);
  if (!Number.isInteger(v)) throw outOfRange(name, 'an integer', v);
  if (v < min || v > max) throw outOfRange(name, `>= ${min} && <= ${max}`, v);
}

/** Node's validateBoolean for an optional property. */
export function validateBoolean(v: unknown, name: string): asserts v is boolean {
  if (typeof v !== 'boolean') throw invalidArgType(name, 'of type boolean', v);
}

/** Validates an optional AbortSignal and throws its AbortError if it already fired. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  const s = validateSignal(signal);
  if (s?.aborted) throw abortError(s);
  return s;
}

/** Throws the AbortError if `signal` fired. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Node's error for an operation on a FileHandle that was closed. */
export function fileClosedError(syscall: string): Error {
  const err = new Error('file closed') as Error & { code: string; syscall: string };
  err.code = 'EBADF';
  err.syscall = syscall;
  return err;
}

/** Whether `v` is an iterable or async iterable other than a string or a view (Node's isCustomIterable). */
export function isCustomIterable(v: unknown): v is Iterable<unknown> | AsyncIterable<unknown> {
  return v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) &&
    (typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function');
}

/** The data error Node throws for writeFile/appendFile/write. */
export function invalidData(name: string, v: unknown): TypeError {
  return invalidArgType(name, 'of type string or an instance of Buffer, TypedArray, or DataView', v);
}

/** The encoding of parsed options, or undefined for bytes (none, null or 'buffer'). */
export function encodingOf(o: { encoding?: unknown }): BufferEncoding | undefined {
  const e = o.encoding;
  return typeof e === 'string' && e !== 'buffer' ? (e as BufferEncoding) : undefined;
}
