/*
 * relay_handle.cc - the ring's side of relays (relay.h): the JavaScript
 * methods, and the SQEs, cancels and in-flight accounting a relay needs.
 *
 * A live relay counts as one operation in flight (it keeps the loop alive
 * like any pending operation) until its end record was delivered; each of
 * its SQEs (polls, recvs, sends, NOPs, cancels) counts as well while it is
 * in the kernel.
 */
#include <errno.h>

#include "prep.h"
#include "relay.h"
#include "ring_handle.h"

/* One more relay SQE in flight: it keeps the loop alive and goes out with this turn's submit. */
void RingHandle::CountRelaySqe() {
  inflight_++;
  UpdateRef();
  StartPrepare();
}

struct io_uring_sqe *RingHandle::RelaySqe() {
  if (!alive_) return nullptr;
  struct io_uring_sqe *sqe = ur_get_sqe(&ring_);
  if (!sqe) {
    SubmitPending(false);
    sqe = ur_get_sqe(&ring_);
    if (!sqe) return nullptr;
  }
  CountRelaySqe();
  return sqe;
}

/* A relay SQE that must not be lost for want of room: a cancel of `ud`
 * (cancel) or a NOP carrying `ud`. */
static void PrepRelayControl(struct io_uring_sqe *sqe, uint64_t ud, bool cancel) {
  if (cancel) {
    ur_prep_cancel(sqe, ud, 0);
    ur_sqe_set_data(sqe, RelayCancelData(ud));
  } else {
    ur_prep_nop(sqe);
    ur_sqe_set_data(sqe, ud);
  }
}

/* Without a free SQE (or behind others waiting, to keep the order) it waits
 * in relay_ctl_; SubmitPending sends those first. */
void RingHandle::QueueRelayControl(uint64_t ud, bool cancel) {
  if (!alive_) return;
  struct io_uring_sqe *sqe = relay_ctl_.empty() ? ur_get_sqe(&ring_) : nullptr;
  if (sqe) {
    PrepRelayControl(sqe, ud, cancel);
    CountRelaySqe();
  } else {
    relay_ctl_.emplace_back(ud, cancel);
    StartPrepare();
  }
}

void RingHandle::FlushDeferred() {
  if (relay_ctl_.empty()) return;
  size_t done = 0;
  for (; done < relay_ctl_.size(); done++) {
    struct io_uring_sqe *sqe = ur_get_sqe(&ring_);
    if (!sqe) break;
    PrepRelayControl(sqe, relay_ctl_[done].first, relay_ctl_[done].second);
    inflight_++;
  }
  relay_ctl_.erase(relay_ctl_.begin(), relay_ctl_.begin() + (long)done);
}

void RingHandle::RelayCancel(uint64_t target) { QueueRelayControl(target, true); }

void RingHandle::RelayNop(uint64_t user_data) { QueueRelayControl(user_data, false); }

/* The op `target` ended: a cancel of it still waiting for room must not go
 * out (it would hit the next op with the same user_data). */
void RingHandle::DropDeferredCancel(uint64_t target) {
  for (size_t i = 0; i < relay_ctl_.size(); i++) {
    if (relay_ctl_[i].second && relay_ctl_[i].first == target) {
      relay_ctl_.erase(relay_ctl_.begin() + (long)i);
      return;
    }
  }
}

/* A relay started / reported its end: the relay itself counts as one operation in flight. */
void RingHandle::RelayBegan() {
  inflight_++;
  UpdateRef();
}

void RingHandle::RelayEnded() {
  if (inflight_ > 0) inflight_--;
  UpdateRef();
}

/*
 * relayStart(src, dst, pipeSize, mode) -> id (mode: RelayMode, relay.h).
 * The relay's end is reported as a completion record (slot = id, gen =
 * URING_NATIVE_GEN) with result 0 (end of stream) or -errno. Throws
 * EBADF/EINVAL (not a socket or pipe; copy and auto modes: not a socket;
 * an unknown mode)/EBUSY, or the buffer group's registration error.
 */
Napi::Value RingHandle::RelayStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 3, "relayStart(src, dst, pipeSize, mode)")) return env.Undefined();
  if (!alive_) return ThrowErrno(env, -EBADF, "relay");
  int src = info[0].As<Napi::Number>().Int32Value();
  int dst = info[1].As<Napi::Number>().Int32Value();
  uint32_t pipe_size = info[2].As<Napi::Number>().Uint32Value();
  int32_t mode = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : kModeSplice;
  if (mode < kModeSplice || mode > kModeAuto) return ThrowErrno(env, -EINVAL, "relay");
  if (!relays_) relays_ = new RelayTable(this);
  const char *syscall = "relay";
  int id = relays_->Start(src, dst, pipe_size, (RelayMode)mode, &syscall);
  if (id < 0) return ThrowErrno(env, id, syscall);
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

/* relayEnd(id) -> [bytes delivered, RelayFailure, bytes of them copied
 * through user-space memory]; frees a relay whose end was reported (bytes
 * -1 otherwise). */
Napi::Value RingHandle::RelayEnd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 1, "relayEnd(id)")) return env.Undefined();
  int failure = 0;
  double copied = 0;
  double b = relays_ ? relays_->End(info[0].As<Napi::Number>().Int32Value(), &failure, &copied) : -1;
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, b));
  out.Set(1u, Napi::Number::New(env, failure));
  out.Set(2u, Napi::Number::New(env, copied));
  return out;
}

/* relayInfo() -> [live relays, pipes in use, idle pooled pipes, times a copy relay found the buffers
 * gone, times the relay buffers' pages were given back, relay buffers holding bytes now]. */
Napi::Value RingHandle::RelayInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 6);
  out.Set(0u, Napi::Number::New(env, relays_ ? relays_->Live() : 0));
  out.Set(1u, Napi::Number::New(env, relays_ ? relays_->PipesInUse() : 0));
  out.Set(2u, Napi::Number::New(env, relays_ ? relays_->PipesIdle() : 0));
  out.Set(3u, Napi::Number::New(env, relays_ ? relays_->BufferWaits() : 0));
  out.Set(4u, Napi::Number::New(env, relays_ ? relays_->BufferTrims() : 0));
  out.Set(5u, Napi::Number::New(env, relays_ ? relays_->BuffersHeld() : 0));
  return out;
}
