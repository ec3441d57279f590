/**
 * sendFile's 'linked' mode: each round is a linked pair of IORING_OP_SPLICE
 * (file -> pipe, pipe -> socket), both run by io-wq workers. A short first
 * half cuts the chain (the second completes with -ECANCELED); whatever sits
 * in the pipe is then drained into the socket before the next round.
 * @internal
 */
import type { Ring } from '../ring';
import { Op } from '../opcodes';
import { abortError, uringError, ECANCELED } from '../errors';
import type { PipePool } from '../pipes';
import { truncatedError } from './sendfile-common';
import { SpliceFlag } from '../ops-splice';
import type { StallWatch } from './sendfile-stall';
import '../ops-poll';
import { PollEvent } from '../ops-poll';

const EAGAIN = 11;

/** Sends file bytes [start, endPos) to the socket; resolves with the bytes sent. @internal */
export async function transferLinked(ring: Ring, sockFd: number, fileFd: number, start: number, endPos: number,
  pool: PipePool, watch: StallWatch): Promise<number> {
  const pipe = pool.acquire();
  const signal = watch.signal;
  let inPipe = 0;
  let sent = 0;
  let pos = start;
  const drain = async (more: boolean): Promise<void> => {
    while (inPipe > 0) {
      let n: number;
      try {
        n = await ring.submit({ opcode: Op.SPLICE, fd: sockFd, off: -1, addr: -1, len: inPipe, fdIn: pipe.readFd,
          opFlags: SpliceFlag.MOVE | (more ? SpliceFlag.MORE : 0), syscall: 'sendfile', signal });
      } catch (e) {
        // An O_NONBLOCK socket (node:net's are; 'ready' transfers leave the facade's so) says
        // "full" instead of waiting: wait for room.
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        await ring.poll(sockFd, PollEvent.OUT, { signal });
        continue;
      }
      if (n === 0) throw uringError(32 /* EPIPE */, 'sendfile');
      inPipe -= n;
      sent += n;
      watch.progress(sent);
    }
  };
  try {
    while (pos < endPos) {
      const want = Math.min(endPos - pos, pipe.size);
      const more = pos + want < endPos;
      const [a, b] = await ring.submitLinked([
        { opcode: Op.SPLICE, fd: pipe.writeFd, off: -1, addr: pos, len: want, fdIn: fileFd, opFlags: SpliceFlag.MOVE,
          syscall: 'sendfile', signal },
        { opcode: Op.SPLICE, fd: sockFd, off: -1, addr: -1, len: want, fdIn: pipe.readFd,
          opFlags: SpliceFlag.MOVE | (more ? SpliceFlag.MORE : 0), syscall: 'sendfile', signal },
      ]) as [number, number];
      if (signal?.aborted) throw abortError(signal); // the pipe's state is checked on release
      if (a < 0) throw uringError(-a, 'sendfile');
      if (a === 0) throw truncatedError(pos, endPos, sent);
      pos += a;
      inPipe += a;
      if (b > 0) {
        inPipe -= b;
        sent += b;
        watch.progress(sent);
      } else if (b < 0 && b !== -ECANCELED && b !== -EAGAIN) { // both leave the bytes in the pipe for drain()
        throw uringError(-b, 'sendfile');
      }
      await drain(pos < endPos);
    }
  } catch (e) {
    pool.release(pipe); // reused only if empty, else closed
    throw e;
  }
  pool.release(pipe); // reused only if empty, else closed
  return sent;
}
