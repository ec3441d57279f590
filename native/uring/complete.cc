/*
 * complete.cc - the completion path.
 *
 * The ring signals a registered eventfd; a uv_poll handle on it wakes this
 * code on the libuv loop. Each wake-up drains every ready CQE into the shared
 * completion array (record.h: slot, generation, result, flags) and calls
 * JavaScript once per batch, which settles the Promises by slot. Whatever the
 * callbacks queued is submitted before returning to the loop.
 */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "ring_handle.h"

/* Rounds per wake-up: operations that complete inline (nop, cached reads)
 * could otherwise keep this callback busy and starve timers and I/O. */
static const int kMaxRounds = 8;

/* Deferred task-work items one enter runs at most (the kernel's
 * IO_LOCAL_TW_DEFAULT_MAX since Linux 6.13): see WorkLeft. */
static const unsigned kTaskWorkPerEnter = 20;

void RingHandle::OnReadable() {
  uint64_t v;
  ssize_t r = read(efd_, &v, sizeof(v)); /* clear the level-triggered signal */
  (void)r;
  Drain(false);
}

/*
 * Calls the JavaScript completion callback for one batch. Plain Node-API
 * calls with every status checked: while a worker is being terminated a
 * completion can still wake this code, and then JavaScript cannot run; the
 * node-addon-api wrappers would turn that failure into a fatal error that
 * aborts the whole process. A callback that threw is reported as an
 * uncaught exception (async path; draining goes on) or left pending for the
 * caller (sync path, wait()).
 */
RingHandle::Delivery RingHandle::DeliverBatch(unsigned n, unsigned base, bool sync_call) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return Delivery::kCannotRun;
  napi_value argv[2], global, fn, result;
  napi_status st = napi_create_uint32(env_, n, &argv[0]);
  if (st == napi_ok) st = napi_create_uint32(env_, base, &argv[1]);
  if (st == napi_ok) st = napi_get_global(env_, &global);
  if (st == napi_ok) st = napi_get_reference_value(env_, onComplete_, &fn);
  if (st == napi_ok) {
    st = sync_call ? napi_call_function(env_, global, fn, 2, argv, &result)
                   : napi_make_callback(env_, *asyncContext_, global, fn, 2, argv, &result);
  }
  Delivery d = Delivery::kDone;
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env_, &pending);
    if (!pending) {
      d = Delivery::kCannotRun; /* the environment is going away: nothing to report */
    } else if (sync_call) {
      d = Delivery::kThrewSync;
    } else {
      napi_value err;
      if (napi_get_and_clear_last_exception(env_, &err) == napi_ok) napi_fatal_exception(env_, err);
    }
  }
  napi_close_handle_scope(env_, scope);
  return d;
}

unsigned RingHandle::Drain(bool sync_call) {
  if (!alive_) return 0;
  /* A synchronous drain (wait() from destroy()) may run inside a completion
   * callback: it writes its records into the upper half of the shared array
   * so the outer batch, still being read by JavaScript, is not overwritten. */
  if (draining_ && !sync_call) return 0;
  const bool nested = draining_;
  const unsigned half = cqcap_ / 2;
  const unsigned base = nested ? half : 0;
  draining_ = true;
  unsigned total = 0;
  bool capped = false; /* the last enter may have stopped at the kernel's task-work limit */
  for (int round = 0; round < kMaxRounds && alive_; round++) {
    /* With DEFER_TASKRUN completions are posted only when we ask. Without
     * it, CQEs the kernel held back when the CQ was full (NODROP) reach the
     * CQ only through an enter with GETEVENTS: ask when it says so. */
    unsigned kflags = __atomic_load_n(ring_.sq.kflags, __ATOMIC_ACQUIRE);
    bool overflowed = (kflags & IORING_SQ_CQ_OVERFLOW) != 0;
    /* After the first round, enter again when the last enter may have left
     * work behind (it posted as many CQEs as one enter runs task-work items:
     * see WorkLeft), or, with TASKRUN_FLAG, when the kernel says new work
     * came; most wake-ups need a single enter. */
    bool work = deferred_ && (round == 0 || capped || !taskrun_flag_ || (kflags & IORING_SQ_TASKRUN));
    SubmitPending(work || overflowed);
    unsigned ready = ur_cq_ready(&ring_);
    capped = work && ready >= kTaskWorkPerEnter;
    if (ready == 0) break;
    unsigned n = 0, i = 0;
    for (; i < ready && n < half; i++) {
      const struct io_uring_cqe *c = ur_cq_peek(&ring_, i);
      int32_t *o = cqout_ + (size_t)(base + n) * CQE_FIELDS;
      if (!(c->flags & IORING_CQE_F_MORE) && inflight_ > 0) inflight_--;
      if (c->user_data & kRelayTag) {
        /* A relay's own poll/NOP: handled here, in C; only its end is reported. */
        if (relays_ && relays_->OnCqe(c, o)) n++;
        continue;
      }
      o[CQE_SLOT] = (int32_t)(uint32_t)c->user_data;
      o[CQE_GEN] = (int32_t)(uint32_t)(c->user_data >> 32);
      o[CQE_RES] = c->res;
      o[CQE_FLAGS] = (int32_t)c->flags;
      n++;
    }
    ur_cq_advance(&ring_, i);
    total += i;
    UpdateRef();
    if (n == 0) continue; /* relay work only: nothing for JavaScript */

    Delivery d = DeliverBatch(n, base, sync_call);
    /* Every record JavaScript did not take: none after a normal delivery (a
     * callback that throws costs the others nothing), the rest of the batch
     * when a terminating worker's JavaScript stopped in the middle of it. */
    CloseUndelivered(base, n);
    if (d == Delivery::kThrewSync) {
      draining_ = nested;
      return total; /* the exception propagates to wait()'s caller */
    }
    if (d == Delivery::kCannotRun) break;
  }
  draining_ = nested;
  if (!alive_ && !draining_ && asyncContext_) {
    /* destroyed from inside a callback: the context was in use until now */
    delete asyncContext_;
    asyncContext_ = nullptr;
  }
  if (alive_) {
    if (relays_) relays_->AfterBatch(); /* relays that waited for a buffer: their recvs go out below */
    SubmitPending(false);
    StopPrepareIfIdle();
    if (!sync_call && WorkLeft()) {
      /* Come back on the next loop turn (timers and other I/O go first):
       * nothing else would wake us for what is left. */
      uint64_t one = 1;
      ssize_t w = write(efd_, &one, sizeof(one));
      (void)w;
    }
  }
  return total;
}

/*
 * The fds that completions JavaScript never saw carry (accepted connections,
 * opened files: fd_results.h) are closed here, or nobody ever would: the
 * records of a batch JavaScript did not take (a worker being terminated: its
 * last callbacks cannot run, or stop in the middle of a batch), and at
 * teardown every CQE the kernel still has (see Teardown). JavaScript marks
 * each record taken (CQE_SLOT = CQE_TAKEN) before it acts on it, so a record
 * it took, and whose fd it may have adopted or even closed already, is never
 * closed here: a second close of a number could close another thread's new
 * fd.
 */
void RingHandle::CloseUndelivered(unsigned base, unsigned n) {
  /* JavaScript takes the records in order: the last one taken means all were
   * (the normal case, one read per batch). */
  if (n == 0 || cqout_[(size_t)(base + n - 1) * CQE_FIELDS + CQE_SLOT] == CQE_TAKEN) return;
  for (unsigned k = 0; k < n; k++) {
    const int32_t *o = cqout_ + (size_t)(base + k) * CQE_FIELDS;
    if (o[CQE_SLOT] == CQE_TAKEN) continue;
    uint64_t ud = (uint64_t)(uint32_t)o[CQE_SLOT] | ((uint64_t)(uint32_t)o[CQE_GEN] << 32);
    if (fd_results_.IsFd(ud, o[CQE_RES])) close(o[CQE_RES]);
  }
}

void RingHandle::CloseUndeliveredCqes() {
  /* Until the kernel has nothing left: CQEs beyond the CQ's room wait in its
   * overflow list, and with DEFER_TASKRUN one enter runs at most 20 deferred
   * items; each enter with GETEVENTS posts more. Bounded: a multishot still
   * armed could otherwise keep posting. */
  for (int pass = 0; pass < 64; pass++) {
    unsigned ready = ur_cq_ready(&ring_);
    for (unsigned i = 0; i < ready; i++) {
      const struct io_uring_cqe *c = ur_cq_peek(&ring_, i);
      if (!(c->user_data & kRelayTag) && fd_results_.IsFd(c->user_data, c->res)) close(c->res);
    }
    ur_cq_advance(&ring_, ready);
    if (!WorkLeft()) break;
    ur_submit(&ring_, 0, true);
  }
}

/*
 * After a drain: is anything left that the eventfd will not announce?
 * - CQEs still in the CQ (the round limit stopped us): their signal was
 *   consumed when this wake-up began.
 * - With DEFER_TASKRUN, deferred task work. An enter runs only a bounded
 *   number of items (IO_LOCAL_TW_DEFAULT_MAX, 20, since Linux 6.13) and keeps
 *   the rest for the next enter, and the kernel signals the eventfd only
 *   when its work list goes from empty to non-empty. A burst (hundreds of
 *   connections arriving at once) used to leave work there and the loop
 *   asleep until some unrelated wake-up: every connection of the burst
 *   stalled. The ring fd's poll reports that work (io_has_work), so one
 *   poll(2) with no timeout tells.
 */
bool RingHandle::WorkLeft() {
  if (ur_cq_ready(&ring_) > 0) return true;
  unsigned kflags = __atomic_load_n(ring_.sq.kflags, __ATOMIC_ACQUIRE);
  if (kflags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) return true;
  if (!deferred_) return false;
  struct pollfd p = {ring_.fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

/*
 * wait(timeoutMs) -> number of operations still in flight.
 * Blocks this thread until every operation in flight has completed or the
 * timeout passed, delivering completions to JavaScript synchronously. Used by
 * destroy() after cancelAll(); never on a hot path.
 */
Napi::Value RingHandle::Wait(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  double ms = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 1000;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (alive_ && inflight_ > 0) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed = (now.tv_sec - start.tv_sec) * 1e3 + (now.tv_nsec - start.tv_nsec) / 1e6;
    if (elapsed >= ms) break;
    long long left_ns = (long long)((ms - elapsed) * 1e6);
    int r = ur_wait_timeout(&ring_, 1, left_ns);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) break;
    Drain(true);
    if (env.IsExceptionPending()) return env.Undefined();
  }
  return Napi::Number::New(env, (double)inflight_);
}
