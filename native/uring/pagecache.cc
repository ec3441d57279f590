/*
 * pagecache.cc - what the page cache holds of a file, and advice to it.
 * Plain system calls (no io_uring opcode exists for either): cachestat(2)
 * lets sendFile splice cached ranges on the loop thread without risking a
 * disk wait there; posix_fadvise(2) drops a file's cached pages (tests and
 * the cold-cache benches).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ring_handle.h"

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* the same number on every architecture (Linux 6.5) */
#endif
struct ur_cachestat_range { uint64_t off, len; };
struct ur_cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

/* cachedRange(fd, offset, length) -> 1 when every page of the range is in
 * the page cache, 0 when some are not, -errno when the kernel cannot tell
 * (-ENOSYS before Linux 6.5). One cachestat(2) call, no I/O. */
static Napi::Value CachedRange(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 3, "cachedRange(fd, offset, length)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t off = info[1].As<Napi::Number>().Int64Value();
  int64_t len = info[2].As<Napi::Number>().Int64Value();
  if (off < 0 || len <= 0) return Napi::Number::New(env, len == 0 ? 1 : -EINVAL);
  struct ur_cachestat_range range = { (uint64_t)off, (uint64_t)len };
  struct ur_cachestat cs;
  memset(&cs, 0, sizeof(cs));
  if (syscall(SYS_cachestat, fd, &range, &cs, 0) < 0) return Napi::Number::New(env, -errno);
  static const long page = sysconf(_SC_PAGESIZE);
  uint64_t pages = (uint64_t)((off + len - 1) / page - off / page + 1);
  return Napi::Number::New(env, cs.nr_cache >= pages ? 1 : 0);
}

/* fadvise(fd, offset, length, advice): posix_fadvise(2); throws on failure.
 * POSIX_FADV_DONTNEED (4) drops clean cached pages of the range. */
static Napi::Value Fadvise(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 4, "fadvise(fd, offset, length, advice)")) return env.Undefined();
  int r = posix_fadvise(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int64Value(),
                        info[2].As<Napi::Number>().Int64Value(), info[3].As<Napi::Number>().Int32Value());
  if (r != 0) return ThrowErrno(env, -r, "fadvise");
  return env.Undefined();
}

void InitPageCache(Napi::Env env, Napi::Object exports) {
  exports.Set("cachedRange", Napi::Function::New(env, CachedRange, "cachedRange"));
  exports.Set("fadvise", Napi::Function::New(env, Fadvise, "fadvise"));
}
