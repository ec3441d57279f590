/**
 * Errors shaped like Node's own: every kernel error becomes an Error with
 * `code` ('ENOENT'), `errno` (negative), `syscall`, and `path`/`dest` where
 * there is one, and a message that names them:
 * `ENOENT: no such file or directory, open '/missing'`.
 */
import { getSystemErrorMap } from 'node:util';
import { readFileSync } from 'node:fs';

/** An error from the kernel, as Node reports system errors. */
export interface UringError extends Error {
  /** Symbolic error code, e.g. `'ENOENT'`. */
  code: string;
  /** Negative errno, as in Node (`-2` for ENOENT). */
  errno: number;
  /** The system call the operation stands for (`'open'`, `'read'`, ...). */
  syscall: string;
  /** The path involved, if any. */
  path?: string;
  /** The destination path of a two-path operation, if any. */
  dest?: string;
}

const systemErrors = getSystemErrorMap();

/** Name and description of a positive errno value, e.g. `['ENOENT', 'no such file or directory']`. */
export function describeErrno(errno: number): [string, string] {
  const entry = systemErrors.get(-errno);
  return entry ? [entry[0], entry[1]] : [`E${errno}`, `unknown error ${errno}`];
}

/**
 * Builds a Node-shaped system error.
 * @param errno - the positive errno value (the CQE result negated)
 * @param syscall - the system call name Node would report
 * @param path - the path involved, if any
 * @param dest - the destination path, if any
 */
export function uringError(errno: number, syscall: string, path?: string, dest?: string): UringError {
  const [code, text] = describeErrno(errno);
  let message = `${code}: ${text}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const err = new Error(message) as UringError;
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  return err;
}

/** ECANCELED, for operations that a destroyed ring will never finish. */
export const ECANCELED = 125;

/** The error a Promise rejects with when its AbortSignal fired. */
export function abortError(signal: AbortSignal | undefined): Error {
  const err = new Error('The operation was aborted', { cause: signal?.reason });
  err.name = 'AbortError';
  (err as Error & { code: string }).code = 'ABORT_ERR';
  return err;
}

/** Error raised when io_uring cannot be used on this machine. */
export interface UringUnavailableError extends Error {
  /** Always `'ERR_IO_URING_UNAVAILABLE'`. */
  code: 'ERR_IO_URING_UNAVAILABLE';
  /** The negative errno io_uring_setup returned. */
  errno: number;
  /** Always `'io_uring_setup'`. */
  syscall: string;
}

function readDisabledSetting(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * Explains why io_uring_setup failed and what to do about it.
 * @param errno - positive errno from io_uring_setup
 * @param disabled - the value of kernel.io_uring_disabled, if readable
 */
export function describeSetupFailure(errno: number, disabled: number | undefined): string {
  const [code] = describeErrno(errno);
  const head = `io_uring is not available: io_uring_setup failed with ${code}.`;
  if (code === 'ENOSYS') {
    return `${head} The kernel has no io_uring (older than 5.1, or built without CONFIG_IO_URING), or a seccomp ` +
      'filter (the default profile of Docker and most container runtimes) rejects the system call. ' +
      'Use Linux 5.19 or newer, or allow io_uring_setup/io_uring_enter/io_uring_register in the seccomp profile ' +
      '(for Docker: --security-opt seccomp=<profile>).';
  }
  if (code === 'EPERM' || code === 'EACCES') {
    if (disabled === 2) {
      return `${head} The sysctl kernel.io_uring_disabled is 2: io_uring is disabled for every process. ` +
        'An administrator can run `sysctl -w kernel.io_uring_disabled=0` to enable it.';
    }
    if (disabled === 1) {
      return `${head} The sysctl kernel.io_uring_disabled is 1: only processes in the group set by ` +
        'kernel.io_uring_group (or with CAP_SYS_ADMIN) may use io_uring. Add this user to that group, or set ' +
        'kernel.io_uring_disabled=0.';
    }
    return `${head} A security policy denies it: most likely a container's seccomp filter or an LSM (SELinux, ` +
      'AppArmor). Allow io_uring_setup/io_uring_enter/io_uring_register for this process.';
  }
  if (code === 'ENOMEM') {
    return `${head} The kernel could not allocate the ring: on kernels before 5.12 the ring counts against ` +
      'RLIMIT_MEMLOCK (`ulimit -l`); raise that limit or ask for fewer entries.';
  }
  if (code === 'EMFILE' || code === 'ENFILE') {
    return `${head} The process is out of file descriptors; close some or raise \`ulimit -n\`.`;
  }
  return `${head} Check that the kernel is Linux 5.19 or newer and that io_uring is allowed for this process.`;
}

/** Builds the error the Ring constructor throws when io_uring is unusable. */
export function setupError(errno: number): UringUnavailableError {
  const err = new Error(describeSetupFailure(errno, readDisabledSetting())) as UringUnavailableError;
  err.code = 'ERR_IO_URING_UNAVAILABLE';
  err.errno = -errno;
  err.syscall = 'io_uring_setup';
  return err;
}

/** A TypeError with Node's `ERR_INVALID_ARG_TYPE` code. */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError {
  const err = new TypeError(
    `The "${name}" argument must be ${expected}. Received ${describeValue(actual)}`,
  ) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

/** A RangeError with Node's `ERR_OUT_OF_RANGE` code. */
export function outOfRange(name: string, range: string, actual: unknown): RangeError {
  const err = new RangeError(
    `The value of "${name}" is out of range. It must be ${range}. Received ${describeValue(actual)}`,
  ) as RangeError & { code: string };
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}

/** A TypeError with Node's `ERR_INVALID_ARG_VALUE` code. */
export function invalidArgValue(name: string, reason: string, actual: unknown): TypeError {
  const err = new TypeError(
    `The argument '${name}' ${reason}. Received ${describeValue(actual)}`,
  ) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** The error every operation on a destroyed ring throws. */
export function ringClosedError(op: string): Error {
  const err = new Error(`Cannot ${op}: the ring has been destroyed. Create a new Ring.`) as Error & { code: string };
  err.code = 'ERR_RING_DESTROYED';
  return err;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return `type string ('${v.length > 28 ? v.slice(0, 25) + '...' : v}')`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `type ${typeof v} (${String(v)})`;
  if (typeof v === 'function') return `function ${v.name || '<anonymous>'}`;
  const ctor = (v as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `an instance of ${ctor}` : 'an object';
}
