/*
 * prep.h - one small helper per io_uring opcode, for C users of ring.h
 * (the benchmark references and native tests). The addon itself fills SQEs
 * from the compact records that lib/ops.ts writes (see submit.cc), so adding
 * an opcode to the JavaScript API needs no C change.
 *
 * Every helper takes an SQE from ur_get_sqe() and leaves user_data to the
 * caller (ur_sqe_set_data).
 */
#ifndef URING_PREP_H
#define URING_PREP_H

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <linux/time_types.h>

#include "compat.h"

static inline void ur_prep_rw(struct io_uring_sqe *sqe, int op, int fd, const void *addr,
                              unsigned len, uint64_t off) {
  sqe->opcode = (uint8_t)op;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)addr;
  sqe->len = len;
  sqe->off = off;
}

static inline void ur_sqe_set_data(struct io_uring_sqe *sqe, uint64_t data) { sqe->user_data = data; }
static inline void ur_sqe_set_flags(struct io_uring_sqe *sqe, unsigned flags) { sqe->flags = (uint8_t)flags; }

/* Since 5.1. Completes with 0; useful for measuring the ring itself. */
static inline void ur_prep_nop(struct io_uring_sqe *sqe) { ur_prep_rw(sqe, IORING_OP_NOP, -1, NULL, 0, 0); }

/* Since 5.6. pread(2)/pwrite(2); off == (uint64_t)-1 uses the file position. */
static inline void ur_prep_read(struct io_uring_sqe *sqe, int fd, void *buf, unsigned n, uint64_t off) {
  ur_prep_rw(sqe, IORING_OP_READ, fd, buf, n, off);
}
static inline void ur_prep_write(struct io_uring_sqe *sqe, int fd, const void *buf, unsigned n, uint64_t off) {
  ur_prep_rw(sqe, IORING_OP_WRITE, fd, buf, n, off);
}

/* Since 5.1. preadv2(2)/pwritev2(2). */
static inline void ur_prep_readv(struct io_uring_sqe *sqe, int fd, const struct iovec *iov, unsigned n, uint64_t off) {
  ur_prep_rw(sqe, IORING_OP_READV, fd, iov, n, off);
}
static inline void ur_prep_writev(struct io_uring_sqe *sqe, int fd, const struct iovec *iov, unsigned n, uint64_t off) {
  ur_prep_rw(sqe, IORING_OP_WRITEV, fd, iov, n, off);
}

/* Since 5.1. Read/write into buffer `index` registered with IORING_REGISTER_BUFFERS. */
static inline void ur_prep_read_fixed(struct io_uring_sqe *sqe, int fd, void *buf, unsigned n, uint64_t off, int index) {
  ur_prep_rw(sqe, IORING_OP_READ_FIXED, fd, buf, n, off);
  sqe->buf_index = (uint16_t)index;
}
static inline void ur_prep_write_fixed(struct io_uring_sqe *sqe, int fd, const void *buf, unsigned n, uint64_t off, int index) {
  ur_prep_rw(sqe, IORING_OP_WRITE_FIXED, fd, buf, n, off);
  sqe->buf_index = (uint16_t)index;
}

/* Since 5.6. openat(2) and close(2). */
static inline void ur_prep_openat(struct io_uring_sqe *sqe, int dfd, const char *path, int flags, unsigned mode) {
  ur_prep_rw(sqe, IORING_OP_OPENAT, dfd, path, mode, 0);
  sqe->open_flags = (uint32_t)flags;
}
static inline void ur_prep_close(struct io_uring_sqe *sqe, int fd) { ur_prep_rw(sqe, IORING_OP_CLOSE, fd, NULL, 0, 0); }

/* Since 5.6. statx(2) into `out` (a struct statx). */
static inline void ur_prep_statx(struct io_uring_sqe *sqe, int dfd, const char *path, int flags, unsigned mask, void *out) {
  ur_prep_rw(sqe, IORING_OP_STATX, dfd, path, mask, (uint64_t)(uintptr_t)out);
  sqe->statx_flags = (uint32_t)flags;
}

/* Since 5.1. fsync(2); IORING_FSYNC_DATASYNC for fdatasync(2). */
static inline void ur_prep_fsync(struct io_uring_sqe *sqe, int fd, unsigned flags) {
  ur_prep_rw(sqe, IORING_OP_FSYNC, fd, NULL, 0, 0);
  sqe->fsync_flags = flags;
}

/* Since 5.6. fallocate(2): mode travels in len, length in addr. */
static inline void ur_prep_fallocate(struct io_uring_sqe *sqe, int fd, int mode, uint64_t off, uint64_t len) {
  ur_prep_rw(sqe, IORING_OP_FALLOCATE, fd, NULL, (unsigned)mode, off);
  sqe->addr = len;
}

/* Since 5.11 / 5.15. unlinkat(2), renameat2(2), mkdirat(2). */
static inline void ur_prep_unlinkat(struct io_uring_sqe *sqe, int dfd, const char *path, int flags) {
  ur_prep_rw(sqe, IORING_OP_UNLINKAT, dfd, path, 0, 0);
  sqe->unlink_flags = (uint32_t)flags;
}
static inline void ur_prep_renameat(struct io_uring_sqe *sqe, int olddfd, const char *oldpath, int newdfd,
                                    const char *newpath, unsigned flags) {
  ur_prep_rw(sqe, IORING_OP_RENAMEAT, olddfd, oldpath, (unsigned)newdfd, (uint64_t)(uintptr_t)newpath);
  sqe->rename_flags = flags;
}
static inline void ur_prep_mkdirat(struct io_uring_sqe *sqe, int dfd, const char *path, unsigned mode) {
  ur_prep_rw(sqe, IORING_OP_MKDIRAT, dfd, path, mode, 0);
}

/* Since 5.4. Completes with -ETIME after `ts` (or after `count` other CQEs). */
static inline void ur_prep_timeout(struct io_uring_sqe *sqe, struct __kernel_timespec *ts, unsigned count, unsigned flags) {
  ur_prep_rw(sqe, IORING_OP_TIMEOUT, -1, ts, 1, count);
  sqe->timeout_flags = flags;
}

/* Since 5.5 (flags since 5.19). Cancel the request whose user_data is `data`. */
static inline void ur_prep_cancel(struct io_uring_sqe *sqe, uint64_t data, int flags) {
  ur_prep_rw(sqe, IORING_OP_ASYNC_CANCEL, -1, NULL, 0, 0);
  sqe->addr = data;
  sqe->cancel_flags = (uint32_t)flags;
}

/* Since 5.7 / 5.8. splice(2) and tee(2); one side must be a pipe.
 * An offset of (uint64_t)-1 means "no offset" (the fd's own position). */
static inline void ur_prep_splice(struct io_uring_sqe *sqe, int fd_in, uint64_t off_in, int fd_out, uint64_t off_out,
                                  unsigned nbytes, unsigned flags) {
  ur_prep_rw(sqe, IORING_OP_SPLICE, fd_out, NULL, nbytes, off_out);
  sqe->splice_off_in = off_in;
  sqe->splice_fd_in = fd_in;
  sqe->splice_flags = flags;
}
static inline void ur_prep_tee(struct io_uring_sqe *sqe, int fd_in, int fd_out, unsigned nbytes, unsigned flags) {
  ur_prep_rw(sqe, IORING_OP_TEE, fd_out, NULL, nbytes, 0);
  sqe->splice_fd_in = fd_in;
  sqe->splice_flags = flags;
}

/* Since 5.6. send(2)/recv(2). */
static inline void ur_prep_send(struct io_uring_sqe *sqe, int fd, const void *buf, size_t n, int flags) {
  ur_prep_rw(sqe, IORING_OP_SEND, fd, buf, (unsigned)n, 0);
  sqe->msg_flags = (uint32_t)flags;
}
static inline void ur_prep_recv(struct io_uring_sqe *sqe, int fd, void *buf, size_t n, int flags) {
  ur_prep_rw(sqe, IORING_OP_RECV, fd, buf, (unsigned)n, 0);
  sqe->msg_flags = (uint32_t)flags;
}

/* Since 6.0. Multishot recv from provided-buffer group `group`. */
static inline void ur_prep_recv_multishot(struct io_uring_sqe *sqe, int fd, int group) {
  ur_prep_rw(sqe, IORING_OP_RECV, fd, NULL, 0, 0);
  sqe->ioprio = IORING_RECV_MULTISHOT;
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = (uint16_t)group;
}

/* Since 5.5 (multishot since 5.19). accept4(2). */
static inline void ur_prep_accept(struct io_uring_sqe *sqe, int fd, void *addr, void *addrlen, int flags, int multishot) {
  ur_prep_rw(sqe, IORING_OP_ACCEPT, fd, addr, 0, (uint64_t)(uintptr_t)addrlen);
  sqe->accept_flags = (uint32_t)flags;
  if (multishot) sqe->ioprio |= IORING_ACCEPT_MULTISHOT;
}

/* Since 6.0. Zero-copy send: a result CQE with F_MORE, then an F_NOTIF CQE. */
static inline void ur_prep_send_zc(struct io_uring_sqe *sqe, int fd, const void *buf, size_t n, int flags) {
  ur_prep_rw(sqe, IORING_OP_SEND_ZC, fd, buf, (unsigned)n, 0);
  sqe->msg_flags = (uint32_t)flags;
}

#endif
