/*
 * ring_handle.h - the N-API object that owns one ring on one thread.
 *
 * The work is split by path so each can be read on its own:
 *   ring_handle.cc  construction, teardown, information, probe
 *   submit.cc       the submit path: records -> SQEs, one io_uring_enter per loop turn
 *   complete.cc     the completion path: eventfd poll -> CQEs -> one JS call per batch
 *   register.cc     registered buffers and helpers that expose memory to JS
 */
#ifndef URING_RING_HANDLE_H
#define URING_RING_HANDLE_H

#include <napi.h>
#include <uv.h>

#include <vector>

#include "fd_results.h"
#include "record.h"
#include "ring.h"

class RingHandle;

/* libuv handles live apart from the JS object: they are freed by their
 * close callbacks, which may run after the RingHandle is gone. */
struct LoopHooks {
  uv_poll_t poll;       /* readable eventfd: completions are ready */
  uv_prepare_t prepare; /* before the loop blocks: submit what JS queued */
  RingHandle *owner;    /* null once the ring is destroyed */
  int open_handles;
  /* Node waits for this hook's removal before it tears the environment down
   * (and unloads this addon in a worker): it is removed by the last close
   * callback, so no callback ever runs into unloaded code. */
  napi_async_cleanup_hook_handle cleanup;
};

class RingHandle : public Napi::ObjectWrap<RingHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RingHandle(const Napi::CallbackInfo &info);
  ~RingHandle() override;

  /* submit.cc */
  static napi_value PrepFast(napi_env env, napi_callback_info cbinfo);
  Napi::Value Submit(const Napi::CallbackInfo &info);
  Napi::Value Reserve(const Napi::CallbackInfo &info);
  void SubmitPending(bool getevents);
  void OnPrepare();
  void StartPrepare();
  void StopPrepareIfIdle();

  /* complete.cc */
  void OnReadable();
  unsigned Drain(bool sync_call);
  Napi::Value Wait(const Napi::CallbackInfo &info);

  /* relay_handle.cc: relays (relay.h) and what they need from the ring */
  Napi::Value RelayStart(const Napi::CallbackInfo &info);
  Napi::Value RelayStop(const Napi::CallbackInfo &info);
  Napi::Value RelayBytes(const Napi::CallbackInfo &info);
  Napi::Value RelayEnd(const Napi::CallbackInfo &info);
  Napi::Value RelayInfo(const Napi::CallbackInfo &info);
  struct io_uring_sqe *RelaySqe();
  void RelayCancel(uint64_t target);
  void RelayNop(uint64_t user_data);
  void DropDeferredCancel(uint64_t target);
  void FlushDeferred();
  void QueueRelayControl(uint64_t ud, bool cancel);
  void CountRelaySqe();
  void RelayBegan();
  void RelayEnded();

  void UpdateRef();

  /* ring_handle.cc */
  Napi::Value Destroy(const Napi::CallbackInfo &info);
  Napi::Value CancelAll(const Napi::CallbackInfo &info);
  Napi::Value CancelFdSync(const Napi::CallbackInfo &info);
  Napi::Value AdjustUnref(const Napi::CallbackInfo &info);
  Napi::Value Info(const Napi::CallbackInfo &info);
  Napi::Value Probe(const Napi::CallbackInfo &info);
  bool WorkLeft(); /* complete.cc: what a drain left that no signal will announce */
  void Teardown();

  /* register.cc */
  Napi::Value RegisterBuffers(const Napi::CallbackInfo &info);
  Napi::Value UnregisterBuffers(const Napi::CallbackInfo &info);

  ur_ring *ring() { return &ring_; }
  uint64_t InFlight() const { return inflight_; }
  bool alive() const { return alive_; }

 private:
  enum class Delivery { kDone, kThrewSync, kCannotRun };
  void CloseUndelivered(unsigned base, unsigned n);
  void CloseUndeliveredCqes();
  Delivery DeliverBatch(unsigned n, unsigned base, bool sync_call);
  static void AsyncCleanup(napi_async_cleanup_hook_handle handle, void *arg);

  ur_ring ring_;
  int efd_ = -1;
  bool alive_ = false;
  bool deferred_ = false;        /* DEFER_TASKRUN: completions need GETEVENTS */
  bool taskrun_flag_ = false;    /* TASKRUN_FLAG: IORING_SQ_TASKRUN says when they would find work */
  bool prepare_active_ = false;
  bool referenced_ = false;
  bool draining_ = false;
  uint64_t inflight_ = 0;        /* SQEs whose final CQE has not arrived */
  uint64_t unrefd_ = 0;          /* of those, how many must not keep the loop alive */
  uint64_t enters_ = 0;          /* io_uring_enter calls made (batching is testable) */
  LoopHooks *hooks_ = nullptr;
  double *rec_ = nullptr;        /* the shared operation record */
  int32_t *cqout_ = nullptr;     /* the shared completion records */
  uint32_t cqcap_ = 0;           /* completion records that fit */
  Napi::Reference<Napi::Float64Array> recRef_;
  Napi::Reference<Napi::Int32Array> cqRef_;
  Napi::FunctionReference onComplete_;
  Napi::AsyncContext *asyncContext_ = nullptr;
  napi_env env_ = nullptr;
  /* Registered buffers (register.cc); shared with the ArrayBuffer over it. */
  struct FixedMemory *fixed_ = nullptr;
  /* Relays (relay.h), created on first use. */
  class RelayTable *relays_ = nullptr;
  /* Relay cancels (true: user_data of the target) and NOPs (false) that
   * found the SQ full; SubmitPending sends them first. */
  std::vector<std::pair<uint64_t, bool>> relay_ctl_;
  /* Requests in flight whose result is a new fd (fd_results.h). */
  FdResults fd_results_;
  friend void ReleaseFixedMemory(RingHandle *ring);
};

/* env_io.cc: rings per environment, for bigbuf.cc's "may the kernel still
 * write into this environment's memory?" (see the file's comment). */
void TrackRing(napi_env env, RingHandle *ring);
void UntrackRing(napi_env env, RingHandle *ring, bool in_flight);
bool EnvMayHaveIo(napi_env env);
void ForgetEnv(napi_env env);

/* owned_fds.cc: stop closing fd at this environment's teardown (closeFd and
 * releaseFd); true when it was adopted. */
bool ReleaseOwnedFd(napi_env env, int fd);

/* register.cc: drop the ring's claim on its registered memory (teardown). */
void ReleaseFixedMemory(RingHandle *ring);

/* Throws a JS Error with errno/syscall set; returns undefined. */
Napi::Value ThrowErrno(Napi::Env env, int neg_errno, const char *syscall);

/* True when the first `n` arguments are numbers; else throws a TypeError
 * naming the call (`usage`) and returns false. */
bool NumberArgs(const Napi::CallbackInfo &info, size_t n, const char *usage);

/* Pointer and length of a Buffer / TypedArray / DataView / ArrayBuffer.
 * TryBytes returns false for anything else; GetBytes also throws TypeError. */
bool TryBytes(napi_env env, napi_value v, uint8_t **data, size_t *len);
bool GetBytes(Napi::Env env, napi_value v, uint8_t **data, size_t *len);

#endif
