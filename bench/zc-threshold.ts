/**
 * Copying send (IORING_OP_SEND) vs zero-copy send (IORING_OP_SEND_ZC) by
 * message size, over loopback TCP, to place the threshold of ring.sendAuto.
 * The receiver is a separate process (node:net reading into the void), so
 * it runs on the other core; each size sends for a fixed time with one send
 * in flight (as a stream writer does), and prints MB/s for both, the ratio
 * zc/copy, and how many notifications said the kernel copied anyway.
 *
 *   node dist/bench/zc-threshold.js [secondsPerPoint=1]
 */
import { spawn } from 'node:child_process';
import { Ring } from '../lib/ring';
import '../lib/ops-net';
import { native } from '../lib/native';

const secs = Number(process.argv[2] ?? 1);
const K = native.socketConstants;

async function connect(ring: Ring, port: number): Promise<number> {
  const fd = await ring.socket(K.AF_INET!, K.SOCK_STREAM!);
  await ring.connect(fd, native.encodeSockaddr('127.0.0.1', port)!);
  return fd;
}

async function measure(ring: Ring, fd: number, size: number, zc: boolean): Promise<[number, number]> {
  const buf = Buffer.alloc(size, 0x61);
  let bytes = 0;
  let copied = 0;
  let sends = 0;
  const end = Date.now() + secs * 1000;
  while (Date.now() < end) {
    const n = zc
      ? await ring.sendZc(fd, buf, { onRelease: (c) => { if (c) copied++; } })
      : await ring.send(fd, buf);
    bytes += n;
    sends++;
  }
  return [bytes / secs / 1e6, sends ? copied / sends : 0];
}

async function main(): Promise<void> {
  const ring = Ring.forThread();
  const child = spawn(process.execPath, ['-e',
    "require('net').createServer((s) => { s.resume(); s.on('error', () => {}); })" +
    ".listen(0, '127.0.0.1', function () { console.log(this.address().port); })"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d: Buffer) => r(Number(d.toString()))));
  const fd = await connect(ring, port);
  console.log('size      copy MB/s   zc MB/s   zc/copy  zc notifications reporting a kernel copy');
  for (const size of [1024, 4096, 16384, 65536, 262144, 1 << 20, 4 << 20]) {
    const [copy] = await measure(ring, fd, size, false);
    const [zc, copiedShare] = await measure(ring, fd, size, true);
    console.log(`${String(size).padEnd(9)} ${copy.toFixed(0).padStart(9)} ${zc.toFixed(0).padStart(9)} ` +
      `${(zc / copy).toFixed(2).padStart(8)}x  ${(copiedShare * 100).toFixed(0)}%`);
  }
  await ring.close(fd);
  child.kill();
}

void main();
