/*
 * bigbuf.cc - large Buffers whose memory is recycled.
 *
 * A fresh multi-megabyte Buffer is expensive before a single byte is read
 * into it: the allocator maps new pages, the first write to each 4 KiB page
 * faults and the kernel zeroes it, and when V8 frees the Buffer the pages are
 * unmapped again. For whole-file reads of large cached files that costs about
 * as much as the copy from the page cache itself.
 *
 * recycledBuffer(length) hands out a Buffer over a chunk from a process-wide
 * free list of page-aligned chunks that were used before (already faulted
 * in). A chunk goes back to the list only from the Buffer's finalizer, i.e.
 * once V8 has released the backing store and no JavaScript anywhere can see
 * the memory. At most kMaxIdleBytes sit idle in the list; beyond that chunks
 * are unmapped, and recycledTrim(ms) (called from an unref'd timer in
 * JavaScript) unmaps chunks nobody took for that long, so the memory goes
 * back to the system once large reads stop. The contents of a recycled chunk are whatever its previous
 * user left there (like Buffer.allocUnsafe): callers overwrite the bytes they
 * expose.
 *
 * The list is shared by every thread (worker_threads) and locked: a finalizer
 * runs on the thread that created the Buffer, but chunks may be taken by any.
 *
 * One exception to "finalized means unused": when a worker is terminated,
 * Node finalizes its Buffers whether or not they are referenced, and a read
 * the kernel has not finished may still write into one (env_io.cc). A chunk
 * finalized while its environment may have kernel I/O in flight is parked:
 * never reused and never unmapped (the address must not come back either).
 * Teardown is recognised in the finalizer itself: JavaScript can no longer
 * run there (a property store fails with no exception pending), while an
 * ordinary finalizer after a GC may run it.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "ring_handle.h"

namespace {

constexpr size_t kMinBytes = 128 * 1024;
constexpr size_t kMaxBytes = 64u << 20;
constexpr size_t kMaxIdleBytes = 256u << 20;
constexpr int64_t kLazyTrimMs = 5000; /* idle longer than this: unmapped on the next give-back */

std::mutex g_lock;
struct Idle {
  void *p;
  int64_t since_ms; /* when it went idle (CLOCK_MONOTONIC) */
};
std::map<size_t, std::vector<Idle>> g_idle; /* capacity -> idle chunks, oldest first */
size_t g_idle_bytes = 0;
size_t g_live_bytes = 0; /* handed out, not yet finalized */
size_t g_parked_bytes = 0; /* finalized while the kernel might still write into them */
std::atomic<bool> g_unsupported{false}; /* external buffers refused (V8 sandbox builds); any thread */

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Capacity class for a request: 64 KiB steps up to 1 MiB, then four steps per
 * power of two (at most 25% over the request), so files of similar sizes share chunks. */
size_t ClassFor(size_t n) {
  const size_t step64k = 64 * 1024;
  if (n <= (1u << 20)) return (n + step64k - 1) / step64k * step64k;
  size_t p = 1u << 20;
  while (p * 2 < n) p *= 2;
  size_t quarter = p / 4;
  return (n + quarter - 1) / quarter * quarter;
}

void *TakeChunk(size_t cap) {
  {
    std::lock_guard<std::mutex> g(g_lock);
    auto it = g_idle.find(cap);
    if (it != g_idle.end() && !it->second.empty()) {
      void *p = it->second.back().p; /* the most recently used: its pages are the warmest */
      it->second.pop_back();
      g_idle_bytes -= cap;
      g_live_bytes += cap;
      return p;
    }
  }
  void *p = mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  std::lock_guard<std::mutex> g(g_lock);
  g_live_bytes += cap;
  return p;
}

/* Unmaps chunks idle since before `cutoff_ms`; the caller holds g_lock and
 * unmaps what lands in `drop` after releasing it. */
void CollectIdle(int64_t cutoff_ms, std::vector<std::pair<void *, size_t>> *drop) {
  for (auto &kv : g_idle) {
    auto &v = kv.second;
    size_t keep_from = 0;
    while (keep_from < v.size() && v[keep_from].since_ms <= cutoff_ms) {
      drop->emplace_back(v[keep_from].p, kv.first);
      keep_from++;
    }
    v.erase(v.begin(), v.begin() + (long)keep_from);
    g_idle_bytes -= keep_from * kv.first;
  }
}

void GiveBack(void *p, size_t cap) {
  std::vector<std::pair<void *, size_t>> drop;
  {
    std::lock_guard<std::mutex> g(g_lock);
    g_live_bytes -= cap;
    /* Chunks nobody took for a while go now too, whichever thread's trim timer runs. */
    CollectIdle(NowMs() - kLazyTrimMs, &drop);
    if (g_idle_bytes + cap <= kMaxIdleBytes) {
      g_idle[cap].push_back(Idle{p, NowMs()});
      g_idle_bytes += cap;
      p = nullptr;
    }
  }
  for (auto &d : drop) munmap(d.first, d.second);
  if (p != nullptr) munmap(p, cap);
}

/* False while the environment is being torn down (worker termination, exit). */
bool JsCanRun(napi_env env) {
  napi_value o, v;
  if (napi_create_object(env, &o) != napi_ok || napi_get_boolean(env, true, &v) != napi_ok) return false;
  if (napi_set_named_property(env, o, "probe", v) == napi_ok) return true;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending; /* a real exception pending: JavaScript still runs; none: teardown */
}

void Finalize(napi_env env, void *data, void *hint) {
  size_t cap = (size_t)(uintptr_t)hint;
  if (!JsCanRun(env) && EnvMayHaveIo(env)) {
    std::lock_guard<std::mutex> g(g_lock);
    g_live_bytes -= cap;
    g_parked_bytes += cap;
    return;
  }
  GiveBack(data, cap);
}

/* recycledBuffer(length) -> Buffer of `length` bytes (contents unspecified), or
 * undefined when `length` is outside [kMinBytes, kMaxBytes] or no memory could
 * be had: the caller then allocates normally. */
Napi::Value RecycledBuffer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "recycledBuffer(length)")) return env.Undefined();
  double len = info[0].As<Napi::Number>().DoubleValue();
  if (g_unsupported || !(len >= (double)kMinBytes && len <= (double)kMaxBytes)) return env.Undefined();
  size_t n = (size_t)len;
  size_t cap = ClassFor(n);
  void *p = TakeChunk(cap);
  if (p == nullptr) return env.Undefined();
  napi_value out;
  napi_status st = napi_create_external_buffer(env, n, p, Finalize, (void *)(uintptr_t)cap, &out);
  if (st != napi_ok) {
    /* napi_generic_failure can come after the ArrayBuffer took ownership (its
     * finalizer will still run): then the chunk is left alone. Other failures
     * happen before and hand it straight back. */
    if (st == napi_no_external_buffers_allowed) g_unsupported = true;
    if (st != napi_generic_failure) GiveBack(p, cap);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    return env.Undefined();
  }
  return Napi::Value(env, out);
}

/* recycledTrim(maxIdleMs) -> [idle bytes left, bytes in use, bytes parked]
 * after unmapping every chunk that has been idle for at least maxIdleMs (0:
 * all; a huge value trims nothing and just reports). */
Napi::Value RecycledTrim(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "recycledTrim(maxIdleMs)")) return env.Undefined();
  int64_t cutoff = NowMs() - info[0].As<Napi::Number>().Int64Value();
  std::vector<std::pair<void *, size_t>> drop;
  size_t counts[3];
  {
    std::lock_guard<std::mutex> g(g_lock);
    CollectIdle(cutoff, &drop);
    counts[0] = g_idle_bytes;
    counts[1] = g_live_bytes;
    counts[2] = g_parked_bytes;
  }
  for (auto &d : drop) munmap(d.first, d.second); /* outside the lock */
  Napi::Array out = Napi::Array::New(env, 3);
  for (uint32_t i = 0; i < 3; i++) out.Set(i, Napi::Number::New(env, (double)counts[i]));
  return out;
}

}  // namespace

void InitBigBuf(Napi::Env env, Napi::Object exports) {
  exports.Set("recycledBuffer", Napi::Function::New(env, RecycledBuffer, "recycledBuffer"));
  exports.Set("recycledTrim", Napi::Function::New(env, RecycledTrim, "recycledTrim"));
  exports.Set("recycledMinBytes", Napi::Number::New(env, (double)kMinBytes));
  /* The environment's entry in env_io.cc goes when it does. */
  napi_add_env_cleanup_hook(env, [](void *arg) { ForgetEnv(static_cast<napi_env>(arg)); }, env);
}
