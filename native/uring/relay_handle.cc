/*
 * relay_handle.cc - the ring's side of relays (relay.h): the JavaScript
 * methods, and the SQEs, cancels and in-flight accounting a relay needs.
 *
 * A live relay counts as one operation in flight (it keeps the loop alive
 * like any pending operation) until its end record was delivered; each of
 * its polls and NOPs counts as well while it is in the kernel.
 */
#include <errno.h>

#include "prep.h"
#include "relay.h"
#include "ring_handle.h"

struct io_uring_sqe *RingHandle::RelaySqe() {
  if (!alive_) return nullptr;
  struct io_uring_sqe *sqe = ur_get_sqe(&ring_);
  if (!sqe) {
    SubmitPending(false);
    sqe = ur_get_sqe(&ring_);
    if (!sqe) return nullptr;
  }
  inflight_++;
  UpdateRef();
  StartPrepare();
  return sqe;
}

void RingHandle::RelayCancel(uint64_t user_data) {
  if (!alive_) return;
  struct io_uring_sqe *sqe = ur_get_sqe(&ring_);
  if (!sqe) {
    deferred_cancels_.push_back(user_data); /* SubmitPending sends it when the SQ has room */
    StartPrepare();
    return;
  }
  ur_prep_cancel(sqe, user_data, 0);
  ur_sqe_set_data(sqe, RelayCancelData(user_data));
  inflight_++;
  UpdateRef();
  StartPrepare();
}

void RingHandle::RelayBegan() {
  inflight_++;
  UpdateRef();
}

void RingHandle::RelayEnded() {
  if (inflight_ > 0) inflight_--;
  UpdateRef();
}

/*
 * relayStart(src, dst, pipeSize, copy) -> id. The relay's end is reported as
 * a completion record (slot = id, gen = URING_NATIVE_GEN) with result 0
 * (end of stream) or -errno. Throws EBADF/EINVAL (not a socket or pipe;
 * copy mode: not a socket)/EBUSY, or the buffer group's registration error.
 */
Napi::Value RingHandle::RelayStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 3, "relayStart(src, dst, pipeSize, copy)")) return env.Undefined();
  if (!alive_) return ThrowErrno(env, -EBADF, "relay");
  int src = info[0].As<Napi::Number>().Int32Value();
  int dst = info[1].As<Napi::Number>().Int32Value();
  uint32_t pipe_size = info[2].As<Napi::Number>().Uint32Value();
  bool copy = info.Length() > 3 && info[3].ToBoolean().Value();
  if (!relays_) relays_ = new RelayTable(this);
  int id = relays_->Start(src, dst, pipe_size, copy);
  if (id < 0) return ThrowErrno(env, id, "relay");
  return Napi::Number::New(env, id);
}

/* relayStop(id): end the relay now; it reports ECANCELED once the kernel let go. */
Napi::Value RingHandle::RelayStop(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "relayStop(id)")) return env.Undefined();
  if (alive_ && relays_) relays_->Cancel(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

/* relayBytes(id) -> bytes delivered so far (-1: unknown id). */
Napi::Value RingHandle::RelayBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "relayBytes(id)")) return env.Undefined();
  double b = relays_ ? relays_->Bytes(info[0].As<Napi::Number>().Int32Value()) : -1;
  return Napi::Number::New(env, b);
}

/* relayEnd(id) -> bytes delivered; frees a relay whose end was reported (-1 otherwise). */
Napi::Value RingHandle::RelayEnd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "relayEnd(id)")) return env.Undefined();
  double b = relays_ ? relays_->End(info[0].As<Napi::Number>().Int32Value()) : -1;
  return Napi::Number::New(env, b);
}

/* relayInfo() -> [live relays, pipes in use, idle pooled pipes, times a copy relay found the buffers
 * gone, times the relay buffers' pages were given back]. */
Napi::Value RingHandle::RelayInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 5);
  out.Set(0u, Napi::Number::New(env, relays_ ? relays_->Live() : 0));
  out.Set(1u, Napi::Number::New(env, relays_ ? relays_->PipesInUse() : 0));
  out.Set(2u, Napi::Number::New(env, relays_ ? relays_->PipesIdle() : 0));
  out.Set(3u, Napi::Number::New(env, relays_ ? relays_->BufferWaits() : 0));
  out.Set(4u, Napi::Number::New(env, relays_ ? relays_->BufferTrims() : 0));
  return out;
}
