/**
 * Unix domain socket addresses for the net facade: a file system path, or on
 * Linux an abstract name (a path that starts with '\0', which leaves no file
 * behind), encoded as struct sockaddr_un the way node:net encodes them, so
 * either side of a connection may be node:net.
 * @internal
 */
import { errorWithHostPort } from './address';
import { native } from '../native';
import type { Ring } from '../ring';
import '../ops-net';

/** AF_UNIX (Linux). */
export const AF_UNIX = 1;
/** Bytes of sun_path in struct sockaddr_un (Linux). */
const SUN_PATH = 108;
const ENAMETOOLONG = 36;
/** Whether this Node's libuv pads abstract names to the whole sun_path (libuv < 1.48), and so do we. */
export const PAD_ABSTRACT = ((): boolean => {
  const [major, minor] = (process.versions.uv ?? '0.0').split('.').map(Number) as [number, number];
  return major < 1 || (major === 1 && minor < 48);
})();

/** Whether `path` names an abstract socket (no file: nothing to unlink). */
export function isAbstract(path: string): boolean {
  return path.startsWith('\0');
}

/**
 * The sockaddr_un bytes for `path`, or a Node-shaped ENAMETOOLONG naming
 * `syscall` when it does not fit (107 bytes and the terminating NUL; an
 * abstract name has no NUL and may use all 108).
 */
export function unixSockaddr(path: string, syscall: string): Buffer | NodeJS.ErrnoException {
  const name = Buffer.from(path, 'utf8');
  const len = isAbstract(path) ? name.length : name.length + 1;
  if (len > SUN_PATH) {
    const err = errorWithHostPort(ENAMETOOLONG, syscall, path, undefined, true);
    err.message += ` (a Unix socket path holds at most ${SUN_PATH - 1} bytes: this one has ${name.length})`;
    return err;
  }
  // The NUL of a path is the zero left at the end. An abstract name is encoded as this Node's node:net
  // encodes it (the kernel tells abstract names apart by their full length): libuv before 1.48 (Node 20
  // and older) pads it with zeros to the whole sun_path, later ones give its exact length.
  const sa = Buffer.alloc(2 + (isAbstract(path) && PAD_ABSTRACT ? SUN_PATH : len));
  sa.writeUInt16LE(AF_UNIX, 0);
  name.copy(sa, 2);
  return sa;
}

/** The file system name a socket path binds: up to its first NUL (the kernel stops there), or none when abstract. */
export function fileOf(path: string): string | undefined {
  if (isAbstract(path)) return undefined;
  const nul = path.indexOf('\0');
  return nul < 0 ? path : path.slice(0, nul);
}

/** node:net's rule: a string that is not a number >= 0 names a Unix socket ('8080', '0x1f90' and '' are ports). */
export function isPipeName(s: unknown): s is string {
  return typeof s === 'string' && !(Number(s) >= 0);
}

/** `backlog` as node:net takes it: a number > 0 (truncated), else the default 511. */
export function backlogOf(backlog: unknown): number {
  const n = Number(backlog);
  return Number.isFinite(n) && n >= 1 ? Math.min(Math.trunc(n), 0x7fffffff) : 511;
}

/** The path option of listen()/connect() when it names a Unix socket, else undefined; not a string: TypeError. */
export function unixPathOf(path: unknown): string | undefined {
  if (path === undefined || path === null || path === '') return undefined; // node:http's agent passes path: null
  if (typeof path !== 'string') {
    const err = new TypeError(`The "path" argument must be of type string. Received ${typeof path}`) as TypeError &
      { code: string };
    err.code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  return path;
}

/**
 * `ring.connect` for an AF_UNIX socket, non-blocking for the connect only: a
 * listener whose backlog is full fails it at once with EAGAIN, as node:net
 * reports, where a blocking one would keep the ring waiting for room for as
 * long as it takes (a Unix connect has no timeout of its own). Blocking is
 * restored after the connect if `stillOurs()` (the fd was not closed meanwhile:
 * its number could be another file's).
 */
export async function connectUnix(ring: Ring, fd: number, sockaddr: Buffer, signal: AbortSignal | undefined,
  stillOurs: () => boolean = () => true): Promise<void> {
  native.setNonBlocking(fd, true);
  await ring.connect(fd, sockaddr, { signal });
  if (stillOurs()) native.setNonBlocking(fd, false);
}
