/**
 * Addresses for the net facade: host names resolved with dns.lookup (as
 * node:net does), IP literals turned into sockaddr bytes by the addon, and
 * errors shaped like node:net's (`connect ECONNREFUSED 127.0.0.1:1`).
 * @internal
 */
import * as dns from 'node:dns';
import { isIP } from 'node:net';
import { describeErrno } from '../errors';
import { native } from '../native';

/** A resolved address ready for bind/connect. @internal */
export interface Resolved {
  address: string;
  family: 4 | 6;
  sockaddr: Buffer;
}

/** Resolves `host` (name or literal) and encodes it with `port`. */
export async function resolve(host: string, port: number): Promise<Resolved> {
  if (isIP(host) !== 0) return literal(host, port);
  const r = await dns.promises.lookup(host);
  return literal(r.address, port);
}

/** Encodes the IP literal `address` with `port`, with no lookup (throws ERR_INVALID_IP_ADDRESS otherwise). */
export function literal(address: string, port: number): Resolved {
  const sockaddr = native.encodeSockaddr(address, port);
  if (sockaddr === null) throw Object.assign(new Error(`Invalid IP address: ${address}`), { code: 'ERR_INVALID_IP_ADDRESS' });
  return { address, family: isIP(address) === 6 ? 6 : 4, sockaddr };
}

/** Node-style system error with host and port, e.g. `connect ECONNREFUSED 127.0.0.1:1`. */
export function errorWithHostPort(errno: number, syscall: string, address: string | undefined, port: number | undefined,
  withText = false): NodeJS.ErrnoException & { address?: string; port?: number } {
  const [code, text] = describeErrno(errno);
  let details = '';
  if (port !== undefined && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  const head = withText ? `${syscall} ${code}: ${text}` : `${syscall} ${code}`;
  const err = new Error(head + details) as NodeJS.ErrnoException & { address?: string; port?: number };
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined && port > 0) err.port = port;
  return err;
}

/** Node-style error for a failure on an established connection: `read ECONNRESET`. */
export function connError(errno: number, syscall: string): NodeJS.ErrnoException {
  return errorWithHostPort(errno, syscall, undefined, undefined);
}

/** Validates a port number the way node:net does. */
export function validatePort(port: unknown, name = 'options.port'): number {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    const err = new RangeError(`${name} should be >= 0 and < 65536. Received ${String(port)}.`) as RangeError & { code: string };
    err.code = 'ERR_SOCKET_BAD_PORT';
    throw err;
  }
  return n;
}
