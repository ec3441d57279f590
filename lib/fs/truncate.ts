/**
 * ftruncate(2) on the ring: IORING_OP_FTRUNCATE (Linux 6.9). On older
 * kernels, where the probe says the opcode is missing, it runs through
 * node:fs (libuv's thread pool), off the event loop's critical path.
 * @internal
 */
import { ftruncate as nodeFtruncate } from 'node:fs';
import { promisify } from 'node:util';
import type { Ring } from '../ring';
import { Op } from '../opcodes';

const ftruncateCb = promisify(nodeFtruncate);

/** Truncates (or extends with zeros) the open file `fd` to `length` bytes. */
export async function ftruncateFd(ring: Ring, fd: number, length: number): Promise<void> {
  if (ring.probe().has('FTRUNCATE')) {
    await ring.submit({ opcode: Op.FTRUNCATE, fd, off: length, syscall: 'ftruncate' });
    return;
  }
  await ftruncateCb(fd, length);
}
