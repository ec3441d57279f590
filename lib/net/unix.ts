/**
 * Unix domain socket addresses for the net facade: a file system path, or on
 * Linux an abstract name (a path that starts with '\0', which leaves no file
 * behind), encoded as struct sockaddr_un the way node:net encodes them, so
 * either side of a connection may be node:net.
 * @internal
 */
import { errorWithHostPort } from './address';

/** AF_UNIX (Linux). */
export const AF_UNIX = 1;
/** Bytes of sun_path in struct sockaddr_un (Linux). */
const SUN_PATH = 108;
const ENAMETOOLONG = 36;

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
  // The NUL of a path is the zero left at the end. An abstract name is padded with zeros to the whole
  // sun_path, as node:net (libuv) does: the kernel tells abstract names apart by their full length, and
  // only the padded form reaches node:net's servers and clients.
  const sa = Buffer.alloc(2 + (isAbstract(path) ? SUN_PATH : len));
  sa.writeUInt16LE(AF_UNIX, 0);
  name.copy(sa, 2);
  return sa;
}

/** The path argument of listen()/connect() when it names a Unix socket (node:net's rules), else undefined. */
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
