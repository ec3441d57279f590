/**
 * Node's string open flags ('r', 'w+', 'ax', ...) and file modes ('644' or
 * 0o644), turned into the numbers open(2) takes, with Node's rules and
 * Node's errors for anything else.
 */
import { constants } from 'node:fs';
import { invalidArgType, invalidArgValue, outOfRange } from '../errors';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_EXCL, O_SYNC } = constants;

/** Every string flag Node accepts, with its open(2) flags. */
const FLAGS: Readonly<Record<string, number>> = {
  r: O_RDONLY,
  rs: O_RDONLY | O_SYNC,
  sr: O_RDONLY | O_SYNC,
  'r+': O_RDWR,
  'rs+': O_RDWR | O_SYNC,
  'sr+': O_RDWR | O_SYNC,
  w: O_TRUNC | O_CREAT | O_WRONLY,
  wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  'w+': O_TRUNC | O_CREAT | O_RDWR,
  'wx+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  'xw+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  a: O_APPEND | O_CREAT | O_WRONLY,
  ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  as: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  sa: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  'a+': O_APPEND | O_CREAT | O_RDWR,
  'ax+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'xa+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'as+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
  'sa+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
};

/** Open flags as Node takes them: a string such as `'r+'`, or the numeric O_* bits. */
export type OpenMode = string | number;

/**
 * Converts Node-style open flags to open(2) flags. `undefined`/`null` mean
 * `'r'`; a number must be an int32; any other value throws Node's
 * `ERR_INVALID_ARG_VALUE` (or `ERR_OUT_OF_RANGE` for a non-integer number).
 */
export function stringToFlags(flags: unknown, name = 'flags'): number {
  if (flags === undefined || flags === null) return O_RDONLY;
  if (typeof flags === 'number') {
    if (!Number.isInteger(flags)) throw outOfRange(name, 'an integer', flags);
    if (flags < -0x80000000 || flags > 0x7fffffff) throw outOfRange(name, '>= -2147483648 && <= 2147483647', flags);
    return flags;
  }
  if (typeof flags === 'string') {
    const v = FLAGS[flags];
    if (v !== undefined && Object.prototype.hasOwnProperty.call(FLAGS, flags)) return v;
  }
  throw invalidArgValue(name, 'is invalid', flags);
}

/**
 * Parses a file mode as Node does: a uint32 or an octal string such as
 * `'644'`; `undefined`/`null` give `def`. Returns the permission bits the
 * kernel uses (`& 0o7777`).
 */
export function parseFileMode(value: unknown, name: string, def: number): number {
  let v = value ?? def;
  if (typeof v === 'string') {
    if (!/^[0-7]+$/.test(v)) throw invalidArgValue(name, 'must be a 32-bit unsigned integer or an octal string', v);
    v = parseInt(v, 8);
  }
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v);
  if (!Number.isInteger(v)) throw outOfRange(name, 'an integer', v);
  if (v < 0 || v > 0xffffffff) throw outOfRange(name, '>= 0 && <= 4294967295', v);
  return v & 0o7777;
}
