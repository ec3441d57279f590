/**
 * TCP urgent data, for both splice pumps (splice-pump.ts, ready-pump.ts).
 * splice(2) reads nothing past TCP's urgent mark (without SO_OOBINLINE the
 * urgent byte is out of band); only recv(2) moves past it. The pumps pass
 * a mark with one recv(2) of one byte (native `recvAtMark`: the urgent
 * byte is dropped, the normal byte after it returned) and write that byte
 * into their empty pipe, so it is forwarded in order like spliced bytes.
 */
import * as fs from 'node:fs';
import { native } from '../../lib/native';

const K = native.socketConstants;

/** recvAtMark's answer when the socket is not at an urgent mark (none pending, or past it). */
export const NOT_AT_MARK = -1;
/** recvAtMark's answer at the mark with nothing after it yet: not the end of stream (the mark is passed once the urgent byte has come). */
export const NOTHING_AFTER_MARK = -2;

/** A TCP socket? Only there does splice(2) stop at an urgent mark. Anything getsockopt refuses (a pipe) is not. */
export function isTcp(fd: number): boolean {
  try {
    return native.getsockopt(fd, K.SOL_SOCKET!, K.SO_PROTOCOL!) === K.IPPROTO_TCP;
  } catch {
    return false;
  }
}

/**
 * At `src`'s urgent mark, takes the normal byte after it into `b` (one byte) and writes it into the pipe
 * whose write end is `pipeWriteFd`; the pipe must be empty (one byte then never blocks, and it goes out in
 * order). Returns what recvAtMark said: 1 (the byte is in the pipe), 0 (end of stream right after the mark),
 * NOT_AT_MARK or NOTHING_AFTER_MARK. Throws when the ioctl, the recv or the write fails.
 */
export function takeByteAtMark(src: number, pipeWriteFd: number, b: Buffer): number {
  const got = native.recvAtMark(src, b);
  if (got > 0) fs.writeSync(pipeWriteFd, b, 0, got);
  return got;
}
