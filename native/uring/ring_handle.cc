/*
 * ring_handle.cc - construction, teardown, information and probe.
 * The submit path is in submit.cc, the completion path in complete.cc.
 */
#include "ring_handle.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "prep.h"
#include "relay.h"

bool NumberArgs(const Napi::CallbackInfo &info, size_t n, const char *usage) {
  bool ok = info.Length() >= n;
  for (size_t i = 0; ok && i < n; i++) ok = info[i].IsNumber();
  if (!ok) Napi::TypeError::New(info.Env(), std::string(usage) + " expects numbers").ThrowAsJavaScriptException();
  return ok;
}

Napi::Value ThrowErrno(Napi::Env env, int neg_errno, const char *syscall) {
  int e = neg_errno < 0 ? -neg_errno : neg_errno;
  Napi::Error err = Napi::Error::New(env, std::string(syscall) + ": " + strerror(e));
  err.Set("errno", Napi::Number::New(env, -e));
  err.Set("syscall", Napi::String::New(env, syscall));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool TryBytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is = false;
  napi_is_typedarray(env, v, &is); /* first: nearly every call passes a Buffer */
  if (is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    void *ptr;
    napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset);
    size_t el = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: el = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
      default: el = 1;
    }
    *data = (uint8_t *)ptr;
    *len = length * el;
    return true;
  }
  napi_is_dataview(env, v, &is);
  if (is) {
    size_t length, offset;
    napi_value ab;
    void *ptr;
    napi_get_dataview_info(env, v, &length, &ptr, &ab, &offset);
    *data = (uint8_t *)ptr;
    *len = length;
    return true;
  }
  napi_is_arraybuffer(env, v, &is);
  if (is) {
    void *ptr;
    napi_get_arraybuffer_info(env, v, &ptr, len);
    *data = (uint8_t *)ptr;
    return true;
  }
  return false;
}

bool GetBytes(Napi::Env env, napi_value v, uint8_t **data, size_t *len) {
  if (TryBytes(env, v, data, len)) return true;
  Napi::TypeError::New(env, "expected a Buffer, TypedArray, DataView or ArrayBuffer").ThrowAsJavaScriptException();
  return false;
}

static void OnHookClosed(uv_handle_t *h) {
  LoopHooks *hooks = static_cast<LoopHooks *>(h->data);
  if (--hooks->open_handles == 0) {
    if (hooks->cleanup) napi_remove_async_cleanup_hook(hooks->cleanup);
    delete hooks;
  }
}

static void OnPoll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  LoopHooks *hooks = static_cast<LoopHooks *>(h->data);
  if (hooks->owner) hooks->owner->OnReadable();
}

Napi::Function RingHandle::Define(Napi::Env env) {
  return DefineClass(env, "RingHandle",
                     {
                         InstanceMethod<&RingHandle::Submit>("submit"),
                         InstanceMethod<&RingHandle::Reserve>("reserve"),
                         InstanceMethod<&RingHandle::Wait>("wait"),
                         InstanceMethod<&RingHandle::CancelAll>("cancelAll"),
                         InstanceMethod<&RingHandle::CancelFdSync>("cancelFdSync"),
                         InstanceMethod<&RingHandle::AdjustUnref>("adjustUnref"),
                         InstanceMethod<&RingHandle::Destroy>("destroy"),
                         InstanceMethod<&RingHandle::RelayStart>("relayStart"),
                         InstanceMethod<&RingHandle::RelayStop>("relayStop"),
                         InstanceMethod<&RingHandle::RelayBytes>("relayBytes"),
                         InstanceMethod<&RingHandle::RelayEnd>("relayEnd"),
                         InstanceMethod<&RingHandle::RelayInfo>("relayInfo"),
                         InstanceMethod<&RingHandle::Info>("info"),
                         InstanceMethod<&RingHandle::Probe>("probe"),
                         InstanceMethod<&RingHandle::RegisterBuffers>("registerBuffers"),
                         InstanceMethod<&RingHandle::UnregisterBuffers>("unregisterBuffers"),
                     });
}

/*
 * new RingHandle(sqEntries, cqEntries, record: Float64Array,
 *                completions: Int32Array, onComplete: (count) => void,
 *                allowDeferTaskrun: boolean)
 */
RingHandle::RingHandle(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingHandle>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  memset(&ring_, 0, sizeof(ring_));
  ring_.fd = -1;
  if (info.Length() < 6 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsFunction()) {
    Napi::TypeError::New(env, "RingHandle(sqEntries, cqEntries, record, completions, onComplete, defer)")
        .ThrowAsJavaScriptException();
    return;
  }
  Napi::Float64Array rec = info[2].As<Napi::Float64Array>();
  Napi::Int32Array cq = info[3].As<Napi::Int32Array>();
  /* Two records at least: a drain uses half the array (the other half is for a nested drain). */
  if (rec.ElementLength() < REC_FIELDS || cq.ElementLength() < 2 * CQE_FIELDS) {
    Napi::RangeError::New(env, "record or completion array too small").ThrowAsJavaScriptException();
    return;
  }
  unsigned sq_entries = info[0].As<Napi::Number>().Uint32Value();
  unsigned cq_entries = info[1].As<Napi::Number>().Uint32Value();
  bool allow_defer = info[5].ToBoolean().Value();

  int r = ur_init_best(&ring_, sq_entries, cq_entries, allow_defer);
  if (r < 0) {
    ThrowErrno(env, r, "io_uring_setup");
    return;
  }
  deferred_ = (ring_.setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
  taskrun_flag_ = (ring_.setup_flags & IORING_SETUP_TASKRUN_FLAG) != 0;

  efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd_ < 0) {
    int e = errno;
    ur_exit(&ring_);
    ThrowErrno(env, -e, "eventfd");
    return;
  }
  r = ur_register_eventfd(&ring_, efd_);
  if (r < 0) {
    close(efd_);
    efd_ = -1;
    ur_exit(&ring_);
    ThrowErrno(env, r, "io_uring_register");
    return;
  }

  uv_loop_t *loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  hooks_ = new LoopHooks();
  hooks_->owner = this;
  hooks_->open_handles = 2;
  hooks_->cleanup = nullptr;
  uv_poll_init(loop, &hooks_->poll, efd_);
  uv_prepare_init(loop, &hooks_->prepare);
  hooks_->poll.data = hooks_;
  hooks_->prepare.data = hooks_;
  uv_poll_start(&hooks_->poll, UV_READABLE, OnPoll);
  /* Referenced only while operations are in flight (see UpdateRef). */
  uv_unref(reinterpret_cast<uv_handle_t *>(&hooks_->poll));
  uv_unref(reinterpret_cast<uv_handle_t *>(&hooks_->prepare));

  rec_ = rec.Data();
  cqout_ = cq.Data();
  cqcap_ = (uint32_t)(cq.ElementLength() / CQE_FIELDS);
  recRef_ = Napi::Persistent(rec);
  cqRef_ = Napi::Persistent(cq);
  onComplete_ = Napi::Persistent(info[4].As<Napi::Function>());
  asyncContext_ = new Napi::AsyncContext(env, "uring.completion");
  alive_ = true;
  TrackRing(env_, this);
  /* prep is bound to this ring through its data pointer (see submit.cc). */
  napi_value prep;
  napi_create_function(env, "prep", NAPI_AUTO_LENGTH, PrepFast, this, &prep);
  info.This().As<Napi::Object>().Set("prep", Napi::Value(env, prep));
  napi_add_async_cleanup_hook(env, AsyncCleanup, hooks_, &hooks_->cleanup);
}

RingHandle::~RingHandle() {
  Teardown();
  delete asyncContext_;
}

void RingHandle::AsyncCleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  LoopHooks *hooks = static_cast<LoopHooks *>(arg);
  /* The environment is going away (process exit or worker termination): no
   * JS may run. Close the ring (the kernel cancels what is left) and the
   * handles; the last close callback removes this hook. */
  if (hooks->owner) hooks->owner->Teardown();
}

void RingHandle::UpdateRef() {
  if (!hooks_) return;
  bool want = inflight_ > unrefd_;
  if (want == referenced_) return;
  referenced_ = want;
  if (want)
    uv_ref(reinterpret_cast<uv_handle_t *>(&hooks_->poll));
  else
    uv_unref(reinterpret_cast<uv_handle_t *>(&hooks_->poll));
}

void RingHandle::Teardown() {
  if (!alive_) return;
  alive_ = false;
  UntrackRing(env_, this, inflight_ > 0);
  onComplete_.Reset();
  recRef_.Reset();
  cqRef_.Reset();
  if (!draining_) { /* else Drain() deletes it once its callback returned */
    delete asyncContext_;
    asyncContext_ = nullptr;
  }
  if (hooks_) {
    hooks_->owner = nullptr;
    uv_poll_stop(&hooks_->poll);
    uv_prepare_stop(&hooks_->prepare);
    uv_close(reinterpret_cast<uv_handle_t *>(&hooks_->poll), OnHookClosed);
    uv_close(reinterpret_cast<uv_handle_t *>(&hooks_->prepare), OnHookClosed);
    hooks_ = nullptr;
  }
  if (ring_.fd >= 0 && inflight_ > 0) {
    /* Closing the ring fd cancels what is left, but in a kernel worker,
     * later: until then a pending multishot accept keeps its listening
     * socket listening (a worker that died would go on taking connections
     * nobody accepts, and its port stays bound) and every other request its
     * file. Cancel now, synchronously, and run the completions' task work
     * (the enter), which drops the requests' files. */
    ur_submit(&ring_, 0, false); /* SQEs not yet flushed go in first, so that the cancel finds them too */
    ur_cancel_all_sync(&ring_, 1000);
    ur_submit(&ring_, 0, true);
  }
  if (ring_.fd >= 0) CloseUndeliveredCqes(); /* accepts and opens that finished but never reached JavaScript */
  if (ring_.fd >= 0) ur_unregister_eventfd(&ring_);
  ur_exit(&ring_); /* closing the fd cancels what the kernel still holds */
  if (efd_ >= 0) close(efd_);
  efd_ = -1;
  ReleaseFixedMemory(this);
  /* After ur_exit: the kernel holds none of the relays' fds any more. */
  delete relays_;
  relays_ = nullptr;
  relay_ctl_.clear();
  inflight_ = 0;
}

/* cancelAll(): ask the kernel to cancel every request in flight. Completions
 * (mostly -ECANCELED) arrive through the normal path. Returns the count the
 * kernel still had in flight. */
Napi::Value RingHandle::CancelAll(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!alive_) return Napi::Number::New(env, 0);
  if (inflight_ == 0) return Napi::Number::New(env, 0);
  struct io_uring_sqe *sqe = ur_get_sqe(&ring_);
  if (!sqe) {
    SubmitPending(false);
    sqe = ur_get_sqe(&ring_);
  }
  if (sqe) {
    ur_prep_cancel(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    ur_sqe_set_data(sqe, (uint64_t)URING_INTERNAL_SLOT);
    inflight_++;
    SubmitPending(true);
  }
  return Napi::Number::New(env, (double)inflight_);
}

/* cancelFdSync(fd) -> requests cancelled (0 when none), or -errno (-EINVAL:
 * the kernel lacks IORING_REGISTER_SYNC_CANCEL). Unlike an ASYNC_CANCEL SQE
 * this returns only once the kernel has cancelled them, and the enter that
 * follows runs their completion work, so the requests no longer hold the
 * file: closing `fd` right after really releases it (a listening socket's
 * port is free at once). The CQEs reach JavaScript through the usual path. */
Napi::Value RingHandle::CancelFdSync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "cancelFdSync(fd)")) return env.Undefined();
  if (!alive_) return Napi::Number::New(env, -EBADF);
  SubmitPending(false); /* an accept still in the SQ must reach the kernel to be found */
  int r = ur_cancel_fd_sync(&ring_, info[0].As<Napi::Number>().Int32Value());
  if (r == -ENOENT) r = 0;
  if (r >= 0) SubmitPending(true);
  return Napi::Number::New(env, r);
}

/* adjustUnref(delta): operations in flight that must not keep the event loop
 * alive (an unref'd server's accept, socket's recv: lib/net/ring.ts LoopRef),
 * counted up or down by JavaScript. The loop stays referenced while more
 * operations are in flight than that. The count is JavaScript's view and can
 * briefly differ from the kernel's: an unref'd operation that ended in a
 * batch whose callback has not run yet (closed before control returns to the
 * loop), or one still waiting in the JS backlog for a free SQE (closed once
 * the SQ has room); in the second window another operation in flight may not
 * hold the loop. */
Napi::Value RingHandle::AdjustUnref(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "adjustUnref(delta)")) return env.Undefined();
  int64_t d = info[0].As<Napi::Number>().Int64Value();
  if (d < 0 && (uint64_t)(-d) > unrefd_) unrefd_ = 0;
  else unrefd_ = (uint64_t)((int64_t)unrefd_ + d);
  UpdateRef();
  return Napi::Number::New(env, (double)unrefd_);
}

/* destroy(): close the ring now. JS has already drained what it could. */
Napi::Value RingHandle::Destroy(const Napi::CallbackInfo &info) {
  Teardown();
  return info.Env().Undefined();
}

Napi::Value RingHandle::Info(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", Napi::Number::New(env, ring_.fd));
  o.Set("sqEntries", Napi::Number::New(env, ring_.sq.entries));
  o.Set("cqEntries", Napi::Number::New(env, ring_.cq.entries));
  o.Set("setupFlags", Napi::Number::New(env, ring_.setup_flags));
  o.Set("features", Napi::Number::New(env, ring_.features));
  o.Set("inflight", Napi::Number::New(env, (double)inflight_));
  o.Set("pending", Napi::Number::New(env, alive_ ? ur_sq_pending(&ring_) : 0));
  o.Set("enters", Napi::Number::New(env, (double)enters_));
  o.Set("cqOverflow", Napi::Number::New(env, alive_ ? *ring_.cq.koverflow : 0));
  return o;
}

/* probe(): Uint8Array with 1 at each supported opcode. */
Napi::Value RingHandle::Probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!alive_) return ThrowErrno(env, -EBADF, "io_uring_register");
  Napi::Uint8Array out = Napi::Uint8Array::New(env, 256);
  int r = ur_probe(&ring_, out.Data(), 256);
  if (r < 0) return ThrowErrno(env, r, "io_uring_register");
  return out;
}
