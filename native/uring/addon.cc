/*
 * addon.cc - module entry. Context-aware: every Node.js environment (the main
 * thread and each worker_thread) gets its own exports and its own rings.
 */
#include <napi.h>
#include <sys/utsname.h>

#include "ring_handle.h"

void InitRegisterHelpers(Napi::Env env, Napi::Object exports);
void InitPipes(Napi::Env env, Napi::Object exports);
void InitPageCache(Napi::Env env, Napi::Object exports);
void InitSockets(Napi::Env env, Napi::Object exports);
void InitPbuf(Napi::Env env, Napi::Object exports);
void InitBigBuf(Napi::Env env, Napi::Object exports);
void InitOwnedFds(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  /* First: its cleanup hook must run after every ring's (see owned_fds.cc). */
  InitOwnedFds(env, exports);
  exports.Set("RingHandle", RingHandle::Define(env));
  InitRegisterHelpers(env, exports);
  InitPipes(env, exports);
  InitPageCache(env, exports);
  InitSockets(env, exports);
  InitPbuf(env, exports);
  InitBigBuf(env, exports);
  Napi::Object c = Napi::Object::New(env);
  c.Set("IORING_SETUP_SQPOLL", Napi::Number::New(env, IORING_SETUP_SQPOLL));
  c.Set("IORING_SETUP_SUBMIT_ALL", Napi::Number::New(env, IORING_SETUP_SUBMIT_ALL));
  c.Set("IORING_SETUP_SINGLE_ISSUER", Napi::Number::New(env, IORING_SETUP_SINGLE_ISSUER));
  c.Set("IORING_SETUP_DEFER_TASKRUN", Napi::Number::New(env, IORING_SETUP_DEFER_TASKRUN));
  c.Set("IORING_FEAT_NODROP", Napi::Number::New(env, IORING_FEAT_NODROP));
  exports.Set("constants", c);
  return exports;
}

NODE_API_MODULE(uring, Init)
