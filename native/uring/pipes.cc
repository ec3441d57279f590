/*
 * pipes.cc - pipes for splice/tee transfers (lib/pipes.ts pools them).
 * Plain system calls: creating and sizing a pipe is not an io_uring opcode.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ring_handle.h"

/* makePipe(size) -> [readFd, writeFd, capacity]. O_CLOEXEC; capacity is what
 * F_SETPIPE_SZ granted (it may be less than asked: /proc/sys/fs/pipe-max-size). */
static Napi::Value MakePipe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int want = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return ThrowErrno(env, -errno, "pipe2");
  int cap = fcntl(fds[1], F_GETPIPE_SZ);
  if (want > 0 && want != cap) {
    int r = fcntl(fds[1], F_SETPIPE_SZ, want);
    if (r < 0 && errno == EPERM) r = -1; /* over pipe-max-size for an unprivileged user: keep the default */
    if (r > 0) cap = r;
  }
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  out.Set(2u, Napi::Number::New(env, cap));
  return out;
}

/* pendingBytes(fd) -> bytes waiting in a pipe (FIONREAD). */
static Napi::Value PendingBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "pendingBytes(fd)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int n = 0;
  if (ioctl(fd, FIONREAD, &n) < 0) return ThrowErrno(env, -errno, "ioctl");
  return Napi::Number::New(env, n);
}

/* closeFd(fd): close(2) now, for teardown paths that must not wait a loop
 * turn. An adopted fd is released first (owned_fds.cc): after the close the
 * number may be another file's. */
static Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "closeFd(fd)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  ReleaseOwnedFd(env, fd);
  if (close(fd) < 0 && errno != EINTR) return ThrowErrno(env, -errno, "close");
  return env.Undefined();
}

/* spliceNow(fdIn, fdOut, len, more, offIn) -> bytes moved, 0 at end of stream, or
 * -errno (-EAGAIN: nothing to move without blocking). One side must be a
 * pipe. A plain non-blocking splice(2) on this thread, for callers that
 * learned readiness from the ring (IORING_OP_POLL_ADD): io_uring's own
 * IORING_OP_SPLICE always runs in an io-wq worker, a thread hand-off per
 * call that costs more than a small transfer. The socket side must be
 * O_NONBLOCK (setNonBlocking) for the call never to wait: for a socket,
 * splice(2) takes its blocking mode from the file, not from the flags.
 * `offIn` (>= 0) reads a regular file from that offset without moving its
 * position. A file whose pages are not in the page cache makes the call wait
 * for the disk (splice(2) ignores SPLICE_F_NONBLOCK there): check with
 * cachedRange first. */
static Napi::Value SpliceNow(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 3, "spliceNow(fdIn, fdOut, len, more?, offIn?)")) return env.Undefined();
  int in = info[0].As<Napi::Number>().Int32Value();
  int out = info[1].As<Napi::Number>().Int32Value();
  int64_t len = info[2].As<Napi::Number>().Int64Value();
  if (len <= 0) return Napi::Number::New(env, 0);
  unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  if (info.Length() > 3 && info[3].ToBoolean()) flags |= SPLICE_F_MORE;
  loff_t off = -1;
  if (info.Length() > 4 && info[4].IsNumber()) off = info[4].As<Napi::Number>().Int64Value();
  ssize_t n;
  do {
    n = splice(in, off >= 0 ? &off : NULL, out, NULL, (size_t)len, flags);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : (double)n);
}

void InitPipes(Napi::Env env, Napi::Object exports) {
  exports.Set("spliceNow", Napi::Function::New(env, SpliceNow, "spliceNow"));
  exports.Set("makePipe", Napi::Function::New(env, MakePipe, "makePipe"));
  exports.Set("pendingBytes", Napi::Function::New(env, PendingBytes, "pendingBytes"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
}
