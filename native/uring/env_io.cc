/*
 * env_io.cc - which environments (main thread, workers) may still have
 * kernel I/O writing into their memory.
 *
 * Memory that V8 releases is normally safe to reuse: a buffer with an
 * operation in flight is referenced by its slot until the final completion.
 * The exception is environment teardown (worker termination): Node then runs
 * every Buffer's finalizer whether or not it is referenced, while a read the
 * kernel has not finished may still land in that memory (closing the ring
 * cancels requests asynchronously). bigbuf.cc asks here before it recycles a
 * chunk finalized during teardown and keeps it out of circulation when the
 * answer is "maybe". (Outside teardown the question does not arise: a
 * finalized Buffer is unreferenced, so nothing is in flight into it.)
 */
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ring_handle.h"

namespace {

struct EnvIo {
  std::vector<RingHandle *> rings;
  bool tainted = false; /* a ring was torn down with requests in flight */
};

std::mutex g_lock;
std::unordered_map<napi_env, EnvIo> g_envs;

}  // namespace

void TrackRing(napi_env env, RingHandle *ring) {
  std::lock_guard<std::mutex> g(g_lock);
  g_envs[env].rings.push_back(ring);
}

void UntrackRing(napi_env env, RingHandle *ring, bool in_flight) {
  std::lock_guard<std::mutex> g(g_lock);
  auto it = g_envs.find(env);
  if (it == g_envs.end()) return;
  auto &v = it->second.rings;
  for (size_t i = 0; i < v.size(); i++) {
    if (v[i] == ring) {
      v.erase(v.begin() + (long)i);
      break;
    }
  }
  if (in_flight) it->second.tainted = true;
}

bool EnvMayHaveIo(napi_env env) {
  std::lock_guard<std::mutex> g(g_lock);
  auto it = g_envs.find(env);
  if (it == g_envs.end()) return false;
  if (it->second.tainted) return true;
  for (RingHandle *r : it->second.rings) {
    if (r->InFlight() > 0) return true;
  }
  return false;
}

void ForgetEnv(napi_env env) {
  std::lock_guard<std::mutex> g(g_lock);
  g_envs.erase(env);
}
