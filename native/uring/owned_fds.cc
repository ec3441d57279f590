/*
 * owned_fds.cc - fds the runtime's objects own, closed when their
 * environment goes away.
 *
 * node:net closes its sockets and node:fs/promises its FileHandles when a
 * worker_thread is terminated or dies of an uncaught exception: they are
 * libuv handles and BaseObjects that the environment's teardown closes. Our
 * fds are plain numbers held by JavaScript objects, and no JavaScript runs at
 * teardown, so without this file they stay open for the life of the process:
 * a listening socket keeps its port (with SO_REUSEPORT the kernel goes on
 * handing it a share of the new connections, which then wait forever), open
 * connections never see their end, files stay open.
 *
 * So the facades adopt each fd they create (adoptFd) and release it when
 * they close it (releaseFd, and closeFd does it itself). The env cleanup hook
 * closes whatever is still adopted. It is registered when the addon loads,
 * before any ring exists, so it runs after the rings' own cleanup (Node runs
 * the hooks in reverse order), which cancels their requests synchronously
 * (RingHandle::Teardown): the kernel holds none of these files any more, and
 * closing a listening socket here frees its port at once.
 *
 * An fd is released just before its close goes into the SQ, never after:
 * once the close has run, the number may belong to another thread's new
 * file, and the hook must never close that. A close still waiting in the
 * JavaScript backlog keeps its fd adopted (lib/ring.ts close()). The price:
 * a close in the SQ or in the kernel, not yet run when the environment
 * went, leaves its fd open (rare: the teardown submits pending SQEs, and a
 * close runs inline unless the file system defers it).
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ring_handle.h"

namespace {

std::mutex g_lock;
std::unordered_map<napi_env, std::unordered_set<int>> g_owned;
/* Unix socket files of listening servers: removed at teardown, as node:net's
 * (libuv closes the pipe handle and unlinks its name when the environment
 * goes), or the next listen() on the path fails with EADDRINUSE. */
struct BoundFile {
  dev_t dev;
  ino_t ino;
};
/* Per environment, per name: the files its servers bound there (two servers
 * of one thread may have bound one name in turn, after the first file was
 * removed by someone else). */
std::unordered_map<napi_env, std::unordered_map<std::string, std::vector<BoundFile>>> g_paths;

/* Removes `path` if the file there is still `f` (a server's socket file is
 * removed, never the file of another server that bound the name since). */
void UnlinkIfSame(const std::string &path, const BoundFile &f) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && st.st_dev == f.dev && st.st_ino == f.ino) unlink(path.c_str());
}

void CloseOwned(void *arg) {
  napi_env env = static_cast<napi_env>(arg);
  std::unordered_set<int> fds;
  std::unordered_map<std::string, std::vector<BoundFile>> paths;
  {
    std::lock_guard<std::mutex> g(g_lock);
    auto it = g_owned.find(env);
    if (it != g_owned.end()) {
      fds.swap(it->second);
      g_owned.erase(it);
    }
    auto pt = g_paths.find(env);
    if (pt != g_paths.end()) {
      paths.swap(pt->second);
      g_paths.erase(pt);
    }
  }
  /* The names first, as libuv does: once a listener is closed, another server may bind its path,
   * and only the file this environment's server made (same inode) is removed. */
  for (const auto &p : paths) {
    for (const BoundFile &f : p.second) UnlinkIfSame(p.first, f);
  }
  for (int fd : fds) close(fd); /* EINTR: Linux has released the fd anyway */
}

/*
 * ownSocketPath(path, true) -> inode: the socket file just bound at path is
 * removed at teardown (if still there: same inode); the inode identifies it
 * (-1: nothing there any more). ownSocketPath(path, false, inode, unlink):
 * no longer; with unlink, it is removed now if it is still that file.
 */
Napi::Value OwnSocketPath(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) {
    Napi::TypeError::New(env, "ownSocketPath(path: string, own: boolean, inode?: number, unlink?: boolean)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  bool own = info[1].ToBoolean().Value();
  if (own) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return Napi::Number::New(env, -1); /* gone already: nothing to remove */
    std::lock_guard<std::mutex> g(g_lock);
    g_paths[env][path].push_back(BoundFile{st.st_dev, st.st_ino});
    return Napi::Number::New(env, (double)st.st_ino);
  }
  double ino = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
  bool unlink_now = info.Length() > 3 && info[3].ToBoolean().Value();
  BoundFile f{};
  bool found = false;
  {
    std::lock_guard<std::mutex> g(g_lock);
    auto it = g_paths.find(env);
    if (it != g_paths.end()) {
      auto e = it->second.find(path);
      if (e != it->second.end()) {
        std::vector<BoundFile> &v = e->second;
        for (size_t i = 0; i < v.size(); i++) {
          if ((double)v[i].ino != ino) continue;
          f = v[i];
          found = true;
          v.erase(v.begin() + (long)i);
          break;
        }
        if (v.empty()) it->second.erase(e);
      }
    }
  }
  if (found && unlink_now) UnlinkIfSame(path, f);
  return env.Undefined();
}

/* adoptFd(fd): close fd when this environment is torn down, unless released first. */
Napi::Value AdoptFd(const Napi::CallbackInfo &info) {
  if (!NumberArgs(info, 1, "adoptFd(fd)")) return info.Env().Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value(); /* validated by lib/owned-fds.ts */
  std::lock_guard<std::mutex> g(g_lock);
  g_owned[info.Env()].insert(fd);
  return info.Env().Undefined();
}

/* releaseFd(fd) -> whether fd was adopted. */
Napi::Value ReleaseFdJs(const Napi::CallbackInfo &info) {
  if (!NumberArgs(info, 1, "releaseFd(fd)")) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), ReleaseOwnedFd(info.Env(), info[0].As<Napi::Number>().Int32Value()));
}

/* adoptedFds() -> how many fds this environment holds adopted (for tests and stats). */
Napi::Value AdoptedFds(const Napi::CallbackInfo &info) {
  std::lock_guard<std::mutex> g(g_lock);
  auto it = g_owned.find(info.Env());
  return Napi::Number::New(info.Env(), it == g_owned.end() ? 0 : (double)it->second.size());
}

}  // namespace

bool ReleaseOwnedFd(napi_env env, int fd) {
  std::lock_guard<std::mutex> g(g_lock);
  auto it = g_owned.find(env);
  if (it == g_owned.end()) return false;
  return it->second.erase(fd) > 0;
}

void InitOwnedFds(Napi::Env env, Napi::Object exports) {
  exports.Set("adoptFd", Napi::Function::New(env, AdoptFd, "adoptFd"));
  exports.Set("releaseFd", Napi::Function::New(env, ReleaseFdJs, "releaseFd"));
  exports.Set("adoptedFds", Napi::Function::New(env, AdoptedFds, "adoptedFds"));
  exports.Set("ownSocketPath", Napi::Function::New(env, OwnSocketPath, "ownSocketPath"));
  napi_add_env_cleanup_hook(env, CloseOwned, env);
}
