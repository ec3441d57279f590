/**
 * uring-node: io_uring for Node.js.
 *
 * - {@link Ring}: one io_uring with Promise-returning, batched operations.
 * - `errors`: Node-shaped system errors.
 */
export { Ring, opcodeSince } from './ring';
export type { RingOptions, OpOptions, RingInfo, RingProbe } from './ring';
export { Stats } from './stats';
export { Op, SqeFlag, CqeFlag, SetupFlag } from './opcodes';
export type { OpName } from './opcodes';
export { uringError, describeSetupFailure } from './errors';
export type { UringError, UringUnavailableError } from './errors';
import './ops-net';
export { MsgFlag, zeroCopyThreshold, setZeroCopyThreshold } from './ops-net';
export type { SendOptions, SendZcOptions, RecvHandler, AcceptHandler, AcceptStream } from './ops-net';
export { BufferGroup, bufferGroup } from './net/bufgroup';
export type { BufferGroupOptions } from './net/bufgroup';
export * as net from './net';
export * as fs from './fs';
export { BufferPool, FixedBuffer, BufferErrorCode } from './buffers';
export type { BufferPoolOptions, BufferPoolError } from './buffers';
import './ops-fixed';
export { openDirect, DirectFile, directAlignment, checkDirectAlignment, logicalBlockSize, O_DIRECT } from './direct';
export type { DirectAlignment, DirectAlignmentError, AlignmentSource } from './direct';
export { SpliceFlag, transfer } from './ops-splice';
export type { TransferOptions } from './ops-splice';
export { PipePool, pipePool, trySplice } from './pipes';
export { adoptFd, releaseFd, adoptedFdCount } from './owned-fds';
export { isCached } from './pagecache';
import './ops-poll';
export { PollEvent } from './ops-poll';
import './ops-relay';
export { Relay, RELAY_PIPE_SIZE } from './ops-relay';
export type { RelayEnd, RelayMode, RelayOptions, RelayResult, RelayStats } from './ops-relay';
export type { Pipe, PipePoolOptions } from './pipes';
export { copyRange, copyFile } from './copy';
export type { CopyRangeOptions, CopyFileOptions } from './copy';
