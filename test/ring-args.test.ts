/**
 * Bad arguments throw TypeError/RangeError synchronously, before anything
 * reaches the kernel, with Node's error codes; a destroyed ring refuses work.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { Ring } from '../lib/ring';
import { describeSetupFailure } from '../lib/errors';

const ring = new Ring({ entries: 8 });
const buf = Buffer.alloc(16);

function throwsCode(fn: () => unknown, ctor: ErrorConstructor, code: string, arg?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ctor, `expected ${ctor.name}, got ${String(caught)}`);
  assert.is((caught as { code?: string }).code, code);
  if (arg) assert.ok((caught as Error).message.includes(arg), (caught as Error).message);
}

test('fd must be a non-negative integer', () => {
  throwsCode(() => ring.read('3' as unknown as number, buf, 0, 1, 0), TypeError, 'ERR_INVALID_ARG_TYPE', '"fd"');
  throwsCode(() => ring.read(-1, buf, 0, 1, 0), RangeError, 'ERR_OUT_OF_RANGE', '"fd"');
  throwsCode(() => ring.close(1.5), RangeError, 'ERR_OUT_OF_RANGE', '"fd"');
});

test('buffer must be an ArrayBufferView', () => {
  throwsCode(() => ring.read(0, 'abc' as unknown as Buffer, 0, 1, 0), TypeError, 'ERR_INVALID_ARG_TYPE', '"buffer"');
  throwsCode(() => ring.write(0, {} as Buffer, 0, 1, 0), TypeError, 'ERR_INVALID_ARG_TYPE', '"buffer"');
});

test('offset and length must fit in the buffer and be integers', () => {
  throwsCode(() => ring.read(0, buf, -1, 1, 0), RangeError, 'ERR_OUT_OF_RANGE', '"offset"');
  throwsCode(() => ring.read(0, buf, 17, 0, 0), RangeError, 'ERR_OUT_OF_RANGE', '"offset"');
  throwsCode(() => ring.read(0, buf, 8, 9, 0), RangeError, 'ERR_OUT_OF_RANGE', '"length"');
  throwsCode(() => ring.write(0, buf, 0, -4, 0), RangeError, 'ERR_OUT_OF_RANGE', '"length"');
  throwsCode(() => ring.write(0, buf, 0, 2.5, 0), RangeError, 'ERR_OUT_OF_RANGE', '"length"');
  throwsCode(() => ring.write(0, buf, '0' as unknown as number, 1, 0), TypeError, 'ERR_INVALID_ARG_TYPE', '"offset"');
});

test('position must be null, -1 or a safe non-negative integer', () => {
  throwsCode(() => ring.read(0, buf, 0, 1, -2), RangeError, 'ERR_OUT_OF_RANGE', '"position"');
  throwsCode(() => ring.read(0, buf, 0, 1, 0.5), RangeError, 'ERR_OUT_OF_RANGE', '"position"');
  throwsCode(() => ring.read(0, buf, 0, 1, 2n ** 60n), RangeError, 'ERR_OUT_OF_RANGE', '"position"');
});

test('vectors must be non-empty arrays of views', () => {
  throwsCode(() => ring.readv(0, []), TypeError, 'ERR_INVALID_ARG_VALUE', 'buffers');
  throwsCode(() => ring.writev(0, [buf, 'x' as unknown as Buffer]), TypeError, 'ERR_INVALID_ARG_TYPE', 'buffers[1]');
});

test('paths: wrong type and NUL bytes are refused', () => {
  throwsCode(() => ring.open(42 as unknown as string, 0), TypeError, 'ERR_INVALID_ARG_TYPE', '"path"');
  throwsCode(() => ring.stat('a\0b'), TypeError, 'ERR_INVALID_ARG_VALUE', 'path');
  throwsCode(() => ring.open(new URL('http://x/y'), 0), TypeError, 'ERR_INVALID_ARG_VALUE', 'path');
  throwsCode(() => ring.open('/x', 0, 0o17777), RangeError, 'ERR_OUT_OF_RANGE', '"mode"');
});

test('signal must be an AbortSignal; timeout ms must be finite', () => {
  throwsCode(() => ring.nop({ signal: {} as AbortSignal }), TypeError, 'ERR_INVALID_ARG_TYPE', 'signal');
  throwsCode(() => ring.timeout(-1), RangeError, 'ERR_OUT_OF_RANGE', '"ms"');
  throwsCode(() => ring.timeout(Infinity), RangeError, 'ERR_OUT_OF_RANGE', '"ms"');
});

test('ring options are validated', () => {
  throwsCode(() => new Ring({ entries: 0 }), RangeError, 'ERR_OUT_OF_RANGE', 'entries');
  throwsCode(() => new Ring({ entries: 64, cqEntries: 8 }), RangeError, 'ERR_OUT_OF_RANGE', 'cqEntries');
});

test('a rejected argument submits nothing', () => {
  const before = ring.info();
  try {
    ring.read(0, buf, 0, 100, 0);
  } catch {
    /* expected */
  }
  const after = ring.info();
  assert.is(after.inflight, before.inflight);
  assert.is(after.queued, before.queued);
});

test('close() on a destroyed ring still closes the fd (cleanup paths leak nothing)', async () => {
  const r = new Ring({ entries: 4 });
  r.destroy();
  const fd = fs.openSync(__filename, 'r');
  await r.close(fd);
  assert.throws(() => fs.fstatSync(fd), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  const err = await r.close(fd).then(() => null, (e: NodeJS.ErrnoException) => e);
  assert.is(err?.code, 'EBADF');
  assert.is(err?.syscall, 'close');
});

test('a destroyed ring throws ERR_RING_DESTROYED for every operation', () => {
  const r = new Ring({ entries: 4 });
  r.destroy();
  r.destroy(); // idempotent
  assert.ok(r.destroyed);
  throwsCode(() => r.nop(), Error, 'ERR_RING_DESTROYED', 'destroyed');
  throwsCode(() => r.read(0, buf, 0, 1, 0), Error, 'ERR_RING_DESTROYED');
  throwsCode(() => r.info(), Error, 'ERR_RING_DESTROYED');
});

test('setup failures explain the cause and the remedy', () => {
  const enosys = describeSetupFailure(38, 0);
  assert.match(enosys, /ENOSYS/);
  assert.match(enosys, /seccomp/);
  assert.match(describeSetupFailure(1, 2), /kernel\.io_uring_disabled is 2/);
  assert.match(describeSetupFailure(1, 1), /io_uring_group/);
  assert.match(describeSetupFailure(1, 0), /seccomp|security policy/);
  assert.match(describeSetupFailure(12, 0), /RLIMIT_MEMLOCK/);
});

test.after(() => ring.destroy());
test.run();
