/**
 * Argument validation at the API edge: wrong types and impossible ranges
 * throw synchronously, before anything reaches the kernel.
 * @internal
 */
import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import type { Bytes } from './native';

/** Throws unless `v` is a valid file descriptor. */
export function validateFd(v: unknown, name = 'fd'): asserts v is number {
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v);
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw outOfRange(name, '>= 0 && <= 2147483647', v);
}

/** Throws unless `v` is an integer in [min, max]. */
export function validateInt(v: unknown, name: string, min: number, max: number): asserts v is number {
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v);
  if (!Number.isInteger(v) || v < min || v > max) throw outOfRange(name, `an integer >= ${min} && <= ${max}`, v);
}

/** Throws unless `v` is an ArrayBufferView (Buffer, TypedArray, DataView). */
export function validateBuffer(v: unknown, name = 'buffer'): asserts v is ArrayBufferView {
  if (!ArrayBuffer.isView(v)) throw invalidArgType(name, 'an instance of Buffer, TypedArray, or DataView', v);
}

/** Throws unless `v` is an array of ArrayBufferViews; returns the total byte length. */
export function validateBufferList(v: unknown, name = 'buffers'): number {
  if (!Array.isArray(v)) throw invalidArgType(name, 'an ArrayBufferView[]', v);
  if (v.length === 0) throw invalidArgValue(name, 'must contain at least one buffer', v);
  if (v.length > 1024) throw outOfRange(`${name}.length`, '<= 1024 (IOV_MAX)', v.length);
  let total = 0;
  for (let i = 0; i < v.length; i++) {
    validateBuffer(v[i], `${name}[${i}]`);
    total += (v[i] as ArrayBufferView).byteLength;
  }
  return total;
}

/** Max bytes in one read or write (Linux caps a single transfer at 0x7ffff000). */
export const MAX_IO = 0x7ffff000;

/**
 * Validates (offset, length) against `buffer` and returns the length.
 * Mirrors Node's fs.read/fs.write rules.
 */
export function validateRange(buffer: ArrayBufferView, offset: unknown, length: unknown): number {
  validateInt(offset, 'offset', 0, buffer.byteLength);
  const max = buffer.byteLength - (offset as number);
  validateInt(length, 'length', 0, Math.min(max, MAX_IO));
  return length as number;
}

/**
 * Converts a position to the kernel's offset: null, undefined and -1 mean
 * "the current file position" (-1 in the SQE).
 */
export function toPosition(v: unknown, name = 'position'): number {
  if (v === null || v === undefined) return -1;
  if (typeof v === 'bigint') {
    if (v < -1n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw outOfRange(name, '>= -1 && <= 2 ** 53 - 1', v);
    return Number(v);
  }
  validateInt(v, name, -1, Number.MAX_SAFE_INTEGER);
  return v as number;
}

/** Converts a path (string, Buffer or file: URL) to its string form and a NUL-terminated Buffer. */
export function toPath(v: unknown, name = 'path'): [string, Buffer] {
  let s: string;
  let b: Buffer;
  if (typeof v === 'string') {
    s = v;
    b = Buffer.from(v + '\0', 'utf8');
  } else if (Buffer.isBuffer(v)) {
    s = v.toString('utf8');
    b = Buffer.concat([v, Buffer.alloc(1)]);
  } else if (v instanceof URL) {
    if (v.protocol !== 'file:') throw invalidArgValue(name, 'must be a URL with the file: scheme', v);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    s = (require('node:url') as typeof import('node:url')).fileURLToPath(v);
    b = Buffer.from(s + '\0', 'utf8');
  } else {
    throw invalidArgType(name, 'of type string or an instance of Buffer or URL', v);
  }
  if (b.indexOf(0) !== b.length - 1) {
    const err = invalidArgValue(name, 'must be a string, Uint8Array, or URL without null bytes', v);
    throw err;
  }
  return [s, b];
}

/** Throws unless `v` is undefined or an AbortSignal. */
export function validateSignal(v: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof AbortSignal)) throw invalidArgType(name, 'an instance of AbortSignal', v);
  return v;
}

/** Returns the bytes of a view as something the addon takes. */
export function bytesOf(v: ArrayBufferView): Bytes {
  return v;
}
