/*
 * submit.cc - the submit path.
 *
 * JavaScript writes one operation into the shared record (record.h) and calls
 * prep(buf1?, buf2?, buf3?): this turns the record into an SQE in place. No
 * system call happens here. The SQEs queued during one turn of the event loop
 * reach the kernel together, with one io_uring_enter, from the uv_prepare
 * hook (just before the loop would block) or at the end of a completion
 * batch, whichever comes first.
 */
#include <errno.h>

#include "prep.h"
#include "relay.h"
#include "ring_handle.h"

static inline uint64_t AsU64(double d) { return (uint64_t)(int64_t)d; }

/* Resolve a record field that may be "offset into buffer arg i":
 * undefined/null keeps the numeric field as it is. */
static inline bool PointerArg(napi_env env, napi_value v, double offset, uint64_t *out) {
  uint8_t *data;
  size_t len;
  if (!TryBytes(env, v, &data, &len)) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_undefined || t == napi_null) return true;
    return GetBytes(Napi::Env(env), v, &data, &len); /* throws the TypeError */
  }
  *out = (uint64_t)(uintptr_t)data + (uint64_t)offset;
  return true;
}

/*
 * prep(buf1?, buf2?, buf3?) -> boolean
 * buf1 (if given) becomes addr = ptr(buf1) + rec[ADDR]; otherwise addr = rec[ADDR].
 * buf2 (if given) becomes off  = ptr(buf2) + rec[OFF];  otherwise off  = rec[OFF].
 * buf3 (if given) becomes addr3 = ptr(buf3) + rec[ADDR3]; otherwise addr3 = rec[ADDR3].
 * Returns false when the SQ is full and the kernel would not take more now;
 * JavaScript keeps the operation queued and retries after completions.
 *
 * This is the one N-API call per operation, so it is a plain napi callback
 * bound to its ring through the function's data pointer (no ObjectWrap
 * lookup, no argument wrappers). JavaScript passes only the buffers it uses.
 */
napi_value RingHandle::PrepFast(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 3;
  napi_value argv[3];
  void *data = nullptr;
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, &data);
  RingHandle *self = static_cast<RingHandle *>(data);
  napi_value result;
  if (!self->alive_) {
    ThrowErrno(Napi::Env(env), -EBADF, "io_uring_enter");
    return nullptr;
  }
  const double *r = self->rec_;
  uint64_t addr = AsU64(r[REC_ADDR]), off = AsU64(r[REC_OFF]), addr3 = AsU64(r[REC_ADDR3]);
  if (argc > 0 && !PointerArg(env, argv[0], r[REC_ADDR], &addr)) return nullptr;
  if (argc > 1 && !PointerArg(env, argv[1], r[REC_OFF], &off)) return nullptr;
  if (argc > 2 && !PointerArg(env, argv[2], r[REC_ADDR3], &addr3)) return nullptr;

  ur_ring *ring = &self->ring_;
  struct io_uring_sqe *sqe = ur_get_sqe(ring);
  if (!sqe) {
    self->SubmitPending(false);
    sqe = ur_get_sqe(ring);
    if (!sqe) {
      napi_get_boolean(env, false, &result);
      return result;
    }
  }
  sqe->opcode = (uint8_t)r[REC_OPCODE];
  sqe->flags = (uint8_t)r[REC_FLAGS];
  sqe->ioprio = (uint16_t)r[REC_IOPRIO];
  sqe->fd = (int32_t)r[REC_FD];
  sqe->off = off;
  sqe->addr = addr;
  sqe->len = (uint32_t)(int64_t)r[REC_LEN];
  sqe->rw_flags = (int)(uint32_t)(int64_t)r[REC_OP_FLAGS];
  sqe->user_data = (uint64_t)(uint32_t)r[REC_SLOT] | ((uint64_t)(uint32_t)r[REC_GEN] << 32);
  sqe->buf_index = (uint16_t)r[REC_BUF_INDEX];
  sqe->splice_fd_in = (int32_t)r[REC_FD_IN];
  sqe->addr3 = addr3;
  self->fd_results_.Note(sqe->user_data, r[REC_FD_RESULT] != 0);

  self->inflight_++;
  self->UpdateRef();
  self->StartPrepare();
  napi_get_boolean(env, true, &result);
  return result;
}

/* Make sure the uv_prepare hook submits what was queued this loop turn. */
void RingHandle::StartPrepare() {
  if (prepare_active_ || !hooks_) return;
  prepare_active_ = true;
  uv_prepare_start(&hooks_->prepare, [](uv_prepare_t *h) {
    LoopHooks *hooks = static_cast<LoopHooks *>(h->data);
    if (hooks->owner) hooks->owner->OnPrepare();
  });
}

/* Publish queued SQEs and enter the kernel once. */
void RingHandle::SubmitPending(bool getevents) {
  if (!alive_) return;
  FlushDeferred(); /* relay cancels and NOPs that found the SQ full go first */
  if (ur_sq_pending(&ring_) == 0 && !getevents) return;
  enters_++;
  int r = ur_submit(&ring_, 0, getevents);
  (void)r; /* -EBUSY/-EAGAIN: the SQEs stay queued and go with the next enter */
  if (!relay_ctl_.empty()) {
    FlushDeferred(); /* the submit made room */
    if (ur_sq_pending(&ring_) > 0) {
      enters_++;
      ur_submit(&ring_, 0, false);
    }
  }
}

/* uv_prepare: the loop is about to block; submit what this turn queued. */
void RingHandle::OnPrepare() {
  SubmitPending(false);
  StopPrepareIfIdle();
}

/* The uv_prepare hook runs only while something waits to be submitted. */
void RingHandle::StopPrepareIfIdle() {
  if (prepare_active_ && hooks_ && ur_sq_pending(&ring_) == 0 && relay_ctl_.empty()) {
    prepare_active_ = false;
    uv_prepare_stop(&hooks_->prepare);
  }
}

/* submit(): enter the kernel now (tests and synchronous callers). */
Napi::Value RingHandle::Submit(const Napi::CallbackInfo &info) {
  unsigned pending = alive_ ? ur_sq_pending(&ring_) : 0;
  SubmitPending(false);
  return Napi::Number::New(info.Env(), pending);
}

/* reserve(n): make room for n SQEs in a row (a link chain must not be split
 * across two submissions). Submits what is queued if needed. */
Napi::Value RingHandle::Reserve(const Napi::CallbackInfo &info) {
  unsigned n = info[0].As<Napi::Number>().Uint32Value();
  if (!alive_) return Napi::Boolean::New(info.Env(), false);
  if (ur_sq_space(&ring_) < n) SubmitPending(false);
  return Napi::Boolean::New(info.Env(), ur_sq_space(&ring_) >= n);
}
