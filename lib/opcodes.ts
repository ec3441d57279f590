/**
 * io_uring opcode numbers (the kernel's `enum io_uring_op`) and SQE flag
 * bits, with the kernel version that introduced each opcode. The ring layer
 * takes these numbers as they are: adding an operation to the JavaScript API
 * needs no change to the addon.
 */

/** Opcode numbers, in kernel order. */
export const Op = {
  NOP: 0,
  READV: 1,
  WRITEV: 2,
  FSYNC: 3,
  READ_FIXED: 4,
  WRITE_FIXED: 5,
  POLL_ADD: 6,
  POLL_REMOVE: 7,
  SYNC_FILE_RANGE: 8,
  SENDMSG: 9,
  RECVMSG: 10,
  TIMEOUT: 11,
  TIMEOUT_REMOVE: 12,
  ACCEPT: 13,
  ASYNC_CANCEL: 14,
  LINK_TIMEOUT: 15,
  CONNECT: 16,
  FALLOCATE: 17,
  OPENAT: 18,
  CLOSE: 19,
  FILES_UPDATE: 20,
  STATX: 21,
  READ: 22,
  WRITE: 23,
  FADVISE: 24,
  MADVISE: 25,
  SEND: 26,
  RECV: 27,
  OPENAT2: 28,
  EPOLL_CTL: 29,
  SPLICE: 30,
  PROVIDE_BUFFERS: 31,
  REMOVE_BUFFERS: 32,
  TEE: 33,
  SHUTDOWN: 34,
  RENAMEAT: 35,
  UNLINKAT: 36,
  MKDIRAT: 37,
  SYMLINKAT: 38,
  LINKAT: 39,
  MSG_RING: 40,
  FSETXATTR: 41,
  SETXATTR: 42,
  FGETXATTR: 43,
  GETXATTR: 44,
  SOCKET: 45,
  URING_CMD: 46,
  SEND_ZC: 47,
  SENDMSG_ZC: 48,
  READ_MULTISHOT: 49,
  WAITID: 50,
  FUTEX_WAIT: 51,
  FUTEX_WAKE: 52,
  FUTEX_WAITV: 53,
  FIXED_FD_INSTALL: 54,
  FTRUNCATE: 55,
  BIND: 56,
  LISTEN: 57,
} as const;

/** Name of an opcode. */
export type OpName = keyof typeof Op;

/** Kernel version that introduced each opcode (for error messages and docs). */
export const OP_SINCE: Readonly<Record<OpName, string>> = {
  NOP: '5.1', READV: '5.1', WRITEV: '5.1', FSYNC: '5.1', READ_FIXED: '5.1', WRITE_FIXED: '5.1',
  POLL_ADD: '5.1', POLL_REMOVE: '5.1', SYNC_FILE_RANGE: '5.2', SENDMSG: '5.3', RECVMSG: '5.3',
  TIMEOUT: '5.4', TIMEOUT_REMOVE: '5.5', ACCEPT: '5.5', ASYNC_CANCEL: '5.5', LINK_TIMEOUT: '5.5',
  CONNECT: '5.5', FALLOCATE: '5.6', OPENAT: '5.6', CLOSE: '5.6', FILES_UPDATE: '5.6', STATX: '5.6',
  READ: '5.6', WRITE: '5.6', FADVISE: '5.6', MADVISE: '5.6', SEND: '5.6', RECV: '5.6',
  OPENAT2: '5.6', EPOLL_CTL: '5.6', SPLICE: '5.7', PROVIDE_BUFFERS: '5.7', REMOVE_BUFFERS: '5.7',
  TEE: '5.8', SHUTDOWN: '5.11', RENAMEAT: '5.11', UNLINKAT: '5.11', MKDIRAT: '5.15',
  SYMLINKAT: '5.15', LINKAT: '5.15', MSG_RING: '5.18', FSETXATTR: '5.19', SETXATTR: '5.19',
  FGETXATTR: '5.19', GETXATTR: '5.19', SOCKET: '5.19', URING_CMD: '5.19', SEND_ZC: '6.0',
  SENDMSG_ZC: '6.1', READ_MULTISHOT: '6.7', WAITID: '6.7', FUTEX_WAIT: '6.7', FUTEX_WAKE: '6.7',
  FUTEX_WAITV: '6.7', FIXED_FD_INSTALL: '6.8', FTRUNCATE: '6.9', BIND: '6.11', LISTEN: '6.11',
};

/** SQE flags (`IOSQE_*`). */
export const SqeFlag = {
  FIXED_FILE: 1 << 0,
  IO_DRAIN: 1 << 1,
  IO_LINK: 1 << 2,
  IO_HARDLINK: 1 << 3,
  ASYNC: 1 << 4,
  BUFFER_SELECT: 1 << 5,
  CQE_SKIP_SUCCESS: 1 << 6,
} as const;

/** CQE flags (`IORING_CQE_F_*`). */
export const CqeFlag = {
  BUFFER: 1 << 0,
  MORE: 1 << 1,
  SOCK_NONEMPTY: 1 << 2,
  NOTIF: 1 << 3,
  BUF_MORE: 1 << 4,
} as const;

/** Setup flags the runtime may report in {@link RingInfo.setupFlags}. */
export const SetupFlag = {
  CQSIZE: 1 << 3,
  CLAMP: 1 << 4,
  SUBMIT_ALL: 1 << 7,
  COOP_TASKRUN: 1 << 8,
  SINGLE_ISSUER: 1 << 12,
  DEFER_TASKRUN: 1 << 13,
} as const;

/** `IORING_ASYNC_CANCEL_*` flags. */
export const CancelFlag = { ALL: 1 << 0, FD: 1 << 1, ANY: 1 << 2 } as const;

/** `IORING_FSYNC_DATASYNC`. */
export const FSYNC_DATASYNC = 1;
