/*
 * relay.cc - socket -> pipe -> socket relays run from the completion path
 * (see relay.h). The JavaScript side is lib/ops-relay.ts.
 *
 * user_data of a relay's own SQEs: bit 63 set (kRelayTag), bits 60-62 the
 * kind below, bits 32-59 the entry's generation, bits 0-31 the entry.
 */
#define _GNU_SOURCE 1
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdutil.h"
#include "prep.h"
#include "ring_handle.h"

enum RelayOpKind : unsigned { kRead = 0, kWrite = 1, kResume = 2, kCancel = 3, kRecv = 4, kSend = 5, kWatch = 6 };

/* Full pipe-fuls moved back to back before a relay lets other CQEs run. */
static const uint8_t kRoundsBeforeYield = 8;
/* Empty pipes kept per ring for the next relay that needs one. */
static const size_t kMaxIdlePipes = 64;
static const unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
static const uint32_t kGenMask = 0x0fffffff;
/* Copy mode: a relay receives no more while it holds this many unsent
 * bytes or buffers (the group is shared: one connection whose peer does
 * not read must not take every buffer). */
static const uint32_t kMaxQueued = 256 * 1024;
static const uint8_t kMaxQueuedBufs = 4;

static inline uint64_t RelayData(int id, uint32_t gen, unsigned kind) {
  return kRelayTag | ((uint64_t)kind << 60) | ((uint64_t)(gen & kGenMask) << 32) | (uint32_t)id;
}

RelayTable::~RelayTable() { Clear(); }

Relay *RelayTable::Get(int id) const {
  if (id < 0 || (size_t)id >= relays_.size()) return nullptr;
  const Relay *r = &relays_[(size_t)id];
  return r->in_use ? const_cast<Relay *>(r) : nullptr;
}

bool RelayTable::Idle(const Relay *r) {
  return !r->read_armed && !r->write_armed && !r->watch_armed && !r->resume_pending && !r->recv_armed &&
         !r->send_inflight;
}

/* A stream socket (both modes) or a pipe (splice mode only)? */
static bool Relayable(int fd, bool copy) {
  struct stat st;
  if (fstat(fd, &st) < 0) return false;
  if (S_ISFIFO(st.st_mode)) return !copy;
  if (!S_ISSOCK(st.st_mode)) return false;
  int type = 0;
  socklen_t len = sizeof(type);
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* A TCP socket (AF_INET or AF_INET6)? */
static bool IsTcp(int fd) {
  int domain = 0;
  socklen_t len = sizeof(domain);
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && (domain == AF_INET || domain == AF_INET6);
}

int RelayTable::Start(int src, int dst, uint32_t pipe_size, RelayMode mode, const char **syscall) {
  bool copy = mode == kModeCopy;
  /* splice(2) on a regular file would wait for the disk on the loop thread,
   * and poll(2) says such a file is always ready; a datagram's empty
   * payload would read as end of stream: stream sockets (and pipes for
   * splice) only. */
  if (fcntl(src, F_GETFD) < 0 || fcntl(dst, F_GETFD) < 0) return -EBADF;
  /* auto mode's recv/send need sockets too. */
  if (!Relayable(src, mode != kModeSplice) || !Relayable(dst, mode != kModeSplice)) return -EINVAL;
  if (mode == kModeAuto && scratch_.empty()) scratch_.resize(kCopyChunk);
  if (copy && !bufs_.ready()) {
    int e = bufs_.Init(ring_->ring()->fd, syscall);
    if (e < 0) return e;
  }
  /* Splice mode calls splice(2) itself and must never block; in copy mode
   * the ring waits for the sockets, which it does only for blocking ones
   * (an O_NONBLOCK socket makes a recv SQE fail with EAGAIN). */
  int src_was = SetFdNonBlocking(src, !copy);
  if (src_was < 0) {
    *syscall = "fcntl";
    return src_was;
  }
  int dst_was = SetFdNonBlocking(dst, !copy);
  /* A relay that does not start leaves the fds' flags as they were. */
  auto restore = [&]() {
    if (dst_was >= 0 && dst != src) SetFdNonBlocking(dst, dst_was == 1);
    SetFdNonBlocking(src, src_was == 1);
  };
  if (dst_was < 0) {
    restore();
    *syscall = "fcntl";
    return dst_was;
  }
  int id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = (int)relays_.size();
    relays_.emplace_back();
  }
  Relay *r = &relays_[(size_t)id];
  uint32_t gen = (r->gen + 1) & kGenMask;
  *r = Relay();
  r->gen = gen;
  r->in_use = true;
  r->src = src;
  r->dst = dst;
  r->pipe_want = pipe_size;
  r->copy = copy;
  r->autocopy = mode == kModeAuto;
  r->tcp = !copy && IsTcp(src); /* only splice(2) stops at an urgent mark */
  if (!copy && !pool_sized_) {
    pool_sized_ = true;
    pool_want_ = pipe_size;
  }
  if (!(copy ? ArmRecv(r, id) : ArmRead(r, id))) {
    r->in_use = false;
    free_.push_back(id);
    restore();
    *syscall = "io_uring_enter";
    return -EBUSY;
  }
  live_++;
  ring_->RelayBegan();
  return id;
}

bool RelayTable::ArmRead(Relay *r, int id) {
  struct io_uring_sqe *sqe = ring_->RelaySqe();
  if (!sqe) return false;
  /* One-shot, checked when armed; multishot once the relay fell back to
   * edge mode (relay.h). POLLPRI: urgent data alone (the byte at the mark)
   * is not POLLIN, and splice(2) must be helped past it (PassUrgentMark). */
  ur_prep_rw(sqe, IORING_OP_POLL_ADD, r->src, NULL, r->edge ? IORING_POLL_ADD_MULTI : 0, 0);
  sqe->poll32_events = POLLIN | POLLRDHUP | POLLPRI;
  ur_sqe_set_data(sqe, RelayData(id, r->gen, kRead));
  r->read_armed = true;
  return true;
}

bool RelayTable::ArmWrite(Relay *r, int id) {
  struct io_uring_sqe *sqe = ring_->RelaySqe();
  if (!sqe) return false;
  /* One-shot, checked when armed; multishot once a completion came without
   * POLLOUT (relay.h, "Waiting for dst"). */
  ur_prep_rw(sqe, IORING_OP_POLL_ADD, r->dst, NULL, r->out_edge ? IORING_POLL_ADD_MULTI : 0, 0);
  sqe->poll32_events = POLLOUT;
  ur_sqe_set_data(sqe, RelayData(id, r->gen, kWrite));
  r->write_armed = true;
  return true;
}

/* dst is full: waits for POLLOUT (a multishot poll still armed serves) and
 * watches src for a reset meanwhile. False when no SQE could be had. */
bool RelayTable::WaitWritable(Relay *r, int id) {
  r->write_wait = true;
  WatchSource(r, id);
  return r->write_armed || ArmWrite(r, id);
}

/* Arms the multishot POLLERR poll on src unless it is armed (relay.h). Without
 * a free SQE the relay goes on unwatched: the next wait for dst tries again. */
void RelayTable::WatchSource(Relay *r, int id) {
  if (r->watch_armed || r->finished) return;
  struct io_uring_sqe *sqe = ring_->RelaySqe();
  if (!sqe) return;
  ur_prep_rw(sqe, IORING_OP_POLL_ADD, r->src, NULL, IORING_POLL_ADD_MULTI, 0);
  sqe->poll32_events = POLLERR;
  ur_sqe_set_data(sqe, RelayData(id, r->gen, kWatch));
  r->watch_armed = true;
}

/* Does the relay read src now, or is a read of it in the kernel? Then a
 * reset of src shows up as that read's error, and the watch stays quiet. */
bool RelayTable::ReadingSource(const Relay *r) const {
  return r->copy ? (r->recv_armed || r->eof_seen) : !r->write_wait;
}

void RelayTable::OnWatch(Relay *r, int id, const struct io_uring_cqe *c) {
  if (!(c->flags & IORING_CQE_F_MORE)) {
    r->watch_armed = false;
    ring_->DropDeferredCancel(RelayData(id, r->gen, kWatch));
  }
  if (r->finished || c->res < 0) return; /* a watch that failed: the relay goes on without it */
  if (ReadingSource(r)) return;
  if (c->res & POLLERR) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(r->src, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      Finish(r, id, -err, kFailPoll);
      return;
    }
  }
  /* The kernel ended the multishot (e.g. the CQ overflowed) while src is not read: watch again. */
  WatchSource(r, id);
}

/* A NOP whose CQE comes back to this relay: to continue after yielding, or
 * to report the end of a relay that has nothing else in the kernel. Never
 * fails: without a free SQE it waits in the ring handle's queue. */
void RelayTable::PostNop(Relay *r, int id) {
  r->resume_pending = true;
  ring_->RelayNop(RelayData(id, r->gen, kResume));
}

void RelayTable::CancelOp(Relay *r, int id, unsigned kind) {
  /* Without a free SQE the cancel waits in the ring handle's queue (it goes
   * out with the next enter): the relay then simply ends a little later. */
  ring_->RelayCancel(RelayData(id, r->gen, kind));
}

/* Copy mode: one recv into a buffer of the group. Single-shot on purpose:
 * a multishot recv may fill dozens of buffers in one pass before this code
 * sees a CQE, so one connection whose peer does not read could take the
 * whole shared group; re-arming per CQE keeps each relay within its cap. */
bool RelayTable::ArmRecv(Relay *r, int id) {
  struct io_uring_sqe *sqe = ring_->RelaySqe();
  if (!sqe) return false;
  ur_prep_rw(sqe, IORING_OP_RECV, r->src, NULL, 0, 0); /* len 0: the whole buffer */
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kRelayBgid;
  ur_sqe_set_data(sqe, RelayData(id, r->gen, kRecv));
  r->recv_armed = true;
  return true;
}

/* Copy mode: receive again unless the relay ended, waits for a buffer, or
 * holds as much as it may (backpressure: the sends drain it first). False
 * only when no SQE could be had; the relay then ends with EBUSY unless the
 * caller handles it (`finish_on_busy` false). */
bool RelayTable::MaybeRecv(Relay *r, int id, bool finish_on_busy) {
  if (r->finished || r->recv_armed || r->eof_seen || r->waiting_bufs) return true;
  if (r->qbufs >= kMaxQueuedBufs || r->queued > kMaxQueued) {
    WatchSource(r, id); /* src is not read until the sends drain: notice its reset meanwhile */
    return true;
  }
  if (ArmRecv(r, id)) return true;
  if (finish_on_busy) Finish(r, id, -EBUSY, kFailRing);
  return false;
}

/* Copy mode: send the head of the queue (one send in flight per relay keeps the order). */
void RelayTable::SendNext(Relay *r, int id) {
  if (r->finished || r->send_inflight || r->write_wait || r->qhead < 0) return;
  uint16_t bid = (uint16_t)r->qhead;
  struct io_uring_sqe *sqe = ring_->RelaySqe();
  if (!sqe) {
    Finish(r, id, -EBUSY, kFailRing);
    return;
  }
  ur_prep_send(sqe, r->dst, bufs_.Addr(bid) + bufs_.off[bid], bufs_.len[bid], MSG_NOSIGNAL);
  ur_sqe_set_data(sqe, RelayData(id, r->gen, kSend));
  r->send_inflight = true;
}

void RelayTable::PopHead(Relay *r) {
  uint16_t bid = (uint16_t)r->qhead;
  r->qhead = bufs_.next[bid];
  if (r->qhead < 0) r->qtail = -1;
  r->qbufs--;
  GiveBack(bid);
}

/* A buffer goes back to the group; one relay that found the group dry may receive again. */
void RelayTable::GiveBack(uint16_t bid) {
  bufs_held_--;
  bufs_.next[bid] = -1;
  if (bufs_.RecycleTrimmed(bid)) buffer_trims_++;
  WakeOne();
}

/* Re-arms the first waiting relay that can receive now; false when none was. */
bool RelayTable::WakeOne() {
  while (!buf_waiters_.empty()) {
    std::pair<int, uint32_t> w = buf_waiters_.back();
    buf_waiters_.pop_back();
    Relay *r = Get(w.first);
    if (!r || r->gen != w.second || !r->waiting_bufs || r->finished) continue;
    r->waiting_bufs = false;
    bool was_armed = r->recv_armed;
    if (!MaybeRecv(r, w.first, false)) {
      /* No SQE even after a submit: it keeps waiting, and so do the others
       * (ending them all with EBUSY for one full SQ would be worse). */
      r->waiting_bufs = true;
      buf_waiters_.push_back(w);
      return false;
    }
    if (!was_armed && r->recv_armed) return true;
  }
  return false;
}

void RelayTable::OnRecv(Relay *r, int id, const struct io_uring_cqe *c) {
  r->recv_armed = false;
  ring_->DropDeferredCancel(RelayData(id, r->gen, kRecv)); /* it must not hit the next recv */
  int32_t res = c->res;
  if (c->flags & IORING_CQE_F_BUFFER) {
    uint16_t bid = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
    bufs_held_++;
    if (res > 0 && (uint32_t)res > bufs_.written[bid]) bufs_.written[bid] = (uint32_t)res;
    if (res <= 0 || r->finished) {
      GiveBack(bid); /* nothing in it, or nobody will send it */
    } else {
      bufs_.off[bid] = 0;
      bufs_.len[bid] = (uint32_t)res;
      bufs_.next[bid] = -1;
      if (r->qtail >= 0) bufs_.next[r->qtail] = (int16_t)bid;
      else r->qhead = (int16_t)bid;
      r->qtail = (int16_t)bid;
      r->qbufs++;
      r->queued += (uint32_t)res;
      SendNext(r, id);
    }
  }
  if (r->finished) return;
  if (res == 0) {
    r->eof_seen = true;
    if (r->qhead < 0 && !r->send_inflight) Finish(r, id, 0, kFailNone);
    return;
  }
  if (res == -ENOBUFS) {
    r->waiting_bufs = true; /* AfterBatch or the next GiveBack re-arms */
    buf_waiters_.emplace_back(id, r->gen);
    buffer_waits_++;
    WatchSource(r, id);
    return;
  }
  if (res < 0) {
    Finish(r, id, res, kFailRecv);
    return;
  }
  MaybeRecv(r, id);
}

void RelayTable::OnSend(Relay *r, int id, int32_t res) {
  r->send_inflight = false;
  ring_->DropDeferredCancel(RelayData(id, r->gen, kSend));
  if (r->qhead < 0) return;
  uint16_t bid = (uint16_t)r->qhead;
  if (r->finished) {
    PopHead(r); /* the kernel is done with it now */
    return;
  }
  if (res == -EAGAIN) {
    if (!WaitWritable(r, id)) Finish(r, id, -EBUSY, kFailRing);
    return;
  }
  if (res <= 0) {
    Finish(r, id, res == 0 ? -EPIPE : res, kFailSend);
    return;
  }
  r->bytes += (uint64_t)res;
  r->queued -= (uint32_t)res;
  bufs_.off[bid] += (uint32_t)res;
  bufs_.len[bid] -= (uint32_t)res;
  if (bufs_.len[bid] == 0) PopHead(r);
  SendNext(r, id);
  if (r->finished) return;
  if (r->eof_seen && r->qhead < 0 && !r->send_inflight) {
    Finish(r, id, 0, kFailNone);
    return;
  }
  MaybeRecv(r, id); /* room again under the caps */
}

bool RelayTable::AcquirePipe(Relay *r) {
  if (!idle_.empty() && r->pipe_want == pool_want_) {
    PooledPipe p = idle_.back();
    idle_.pop_back();
    r->pipe_r = p.r;
    r->pipe_w = p.w;
    r->pipe_cap = p.cap;
    pipes_in_use_++;
    return true;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return false;
  int cap = fcntl(fds[1], F_GETPIPE_SZ);
  if (r->pipe_want > 0 && (int)r->pipe_want != cap) {
    int got = fcntl(fds[1], F_SETPIPE_SZ, (int)r->pipe_want);
    if (got > 0) cap = got; /* EPERM over pipe-max-size: keep the default */
  }
  r->pipe_r = fds[0];
  r->pipe_w = fds[1];
  r->pipe_cap = (uint32_t)cap;
  pipes_in_use_++;
  return true;
}

void RelayTable::ReleasePipe(Relay *r, bool empty) {
  if (r->pipe_r < 0) return;
  /* Only an empty pipe of the pool's size is reused; anything else is closed. */
  if (empty && r->pipe_want == pool_want_ && idle_.size() < kMaxIdlePipes) {
    idle_.push_back(PooledPipe{r->pipe_r, r->pipe_w, r->pipe_cap});
  } else {
    close(r->pipe_r);
    close(r->pipe_w);
  }
  r->pipe_r = r->pipe_w = -1;
  pipes_in_use_--;
}

/* Waits for src again when nothing else of the relay is in the kernel (a
 * no-op for copy relays and while a multishot poll is still armed). */
void RelayTable::Rearm(Relay *r, int id) {
  if (r->finished || r->copy || r->read_armed || r->write_wait || r->resume_pending) return;
  if (!ArmRead(r, id)) Finish(r, id, -EBUSY, kFailRing);
}

/*
 * Moves what can move without blocking: empties the pipe into dst, then
 * refills it from src, until src has nothing more or a read came back
 * short (the caller re-arms src's poll, which fires at once if anything is
 * left), dst is full (wait for POLLOUT, read nothing meanwhile: that is the
 * backpressure), the stream ended, or a splice failed.
 */
void RelayTable::Step(Relay *r, int id) {
  if (r->finished || r->write_wait) return;
  if (r->stash_len > 0 && !SendStash(r, id)) return;
  uint64_t moved = 0;  /* bytes spliced in from src by this call */
  bool settle = false; /* a short read: deliver it, then wait for the poll */
  for (;;) {
    while (r->buffered > 0) {
      ssize_t m = splice(r->pipe_r, NULL, r->dst, NULL, r->buffered, kSpliceFlags);
      if (m < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          if (!WaitWritable(r, id)) Finish(r, id, -EBUSY, kFailRing);
          return;
        }
        Finish(r, id, -errno, kFailSpliceOut);
        return;
      }
      if (m == 0) {
        Finish(r, id, -EPIPE, kFailSpliceOut);
        return;
      }
      r->buffered -= (uint32_t)m;
      r->bytes += (uint64_t)m;
    }
    if (settle) {
      ReleasePipe(r, true); /* idle relays hold no pipe */
      if (r->autocopy && moved < kCopyChunk) r->bulk = false;
      return;
    }
    if (r->autocopy && !r->bulk) {
      if (!CopySmall(r, id)) return;
      continue; /* it filled the chunk: splice the rest */
    }
    if (r->pipe_r < 0 && !AcquirePipe(r)) {
      Finish(r, id, -errno, kFailPipe); /* out of fds (EMFILE/ENFILE) or pipe memory */
      return;
    }
    ssize_t n = splice(r->src, NULL, r->pipe_w, NULL, r->pipe_cap, kSpliceFlags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        /* Woken, yet nothing to splice: on TCP, perhaps the urgent mark. */
        if (r->tcp && (moved == 0 || r->edge) && PassUrgentMark(r, id)) continue;
        if (r->finished) return;
        ReleasePipe(r, true); /* idle relays hold no pipe */
        /* auto: an event that brought less than a chunk goes back to copying. */
        if (r->autocopy && moved < kCopyChunk) r->bulk = false;
        return;
      }
      Finish(r, id, -errno, kFailSplice);
      return;
    }
    r->taken++;
    if (n == 0) {
      /* On TCP a splice at the urgent mark reads 0 once the peer has shut down. */
      if (r->tcp && PassUrgentMark(r, id)) continue;
      Finish(r, id, 0, kFailNone);
      return;
    }
    r->buffered = (uint32_t)n;
    moved += (uint64_t)n;
    if ((uint32_t)n < r->pipe_cap) {
      r->full_rounds = 0;
      /* Most likely all there was: no call to hear EAGAIN (bulk reads on). */
      if ((uint32_t)n < kCopyChunk && !r->edge) settle = true;
    } else if (++r->full_rounds >= kRoundsBeforeYield) {
      /* A source that keeps the pipe full could hold the completion path:
       * continue after the CQEs already queued (a NOP's CQE comes last). */
      r->full_rounds = 0;
      if (!r->resume_pending) PostNop(r, id);
      return;
    }
  }
}

/*
 * auto mode, small-message state: one recv(2) into the scratch buffer and a
 * send(2) of what it got. True when the recv filled the chunk (more is
 * likely waiting: the caller switches to splicing). After a short recv the
 * relay waits for its poll, which fires at once if anything was left.
 */
bool RelayTable::CopySmall(Relay *r, int id) {
  char *buf = scratch_.data();
  ssize_t n = RecvNow(r, id, buf, kCopyChunk);
  if (n <= 0 || !Forward(r, id, buf, (size_t)n)) return false;
  if ((uint32_t)n == kCopyChunk) {
    r->bulk = true;
    return true;
  }
  return r->edge; /* edge mode reads on to EAGAIN (this state never holds a pipe) */
}

/*
 * splice(2) reads nothing past TCP's urgent mark; only recv(2) moves past it
 * (skipping the out-of-band byte, or returning it with SO_OOBINLINE). At the
 * mark, one byte is received and sent on (the only payload a splice relay
 * ever copies). True when it moved one and splicing can go on.
 */
bool RelayTable::PassUrgentMark(Relay *r, int id) {
  int at_mark = 0;
  if (ioctl(r->src, SIOCATMARK, &at_mark) < 0 || !at_mark) {
    return false; /* past it already, or no urgent data pending */
  }
  r->taken++; /* the recv below passes the mark even when it finds nothing after it */
  char b;
  return RecvNow(r, id, &b, 1) == 1 && Forward(r, id, &b, 1);
}

/* A non-blocking recv(2): its byte count; 0 when the stream ended (the
 * relay then finished) or nothing was there, -1 when it failed (the relay
 * then ended with the error). */
ssize_t RelayTable::RecvNow(Relay *r, int id, char *buf, size_t len) {
  ssize_t n;
  do {
    n = recv(r->src, buf, len, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) r->taken++;
  if (n > 0) return n;
  if (n == 0) {
    Finish(r, id, 0, kFailNone);
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  Finish(r, id, -errno, kFailRecv);
  return -1;
}

/* Sends what it can of `len` bytes now; -1 when the send failed (the relay ended). */
ssize_t RelayTable::SendNow(Relay *r, int id, const char *p, size_t len) {
  size_t sent = 0;
  while (sent < len) {
    ssize_t m = send(r->dst, p + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (m < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Finish(r, id, -errno, kFailSend);
      return -1;
    }
    sent += (size_t)m;
  }
  r->bytes += sent;
  r->copied += sent;
  return (ssize_t)sent;
}

/*
 * Delivers `len` received bytes; true when all went out. What dst does not
 * take is copied out of the caller's buffer (the shared scratch buffer) into
 * the relay's own stash and waits for POLLOUT; nothing more is read
 * meanwhile (backpressure: at most one chunk per stalled relay).
 */
bool RelayTable::Forward(Relay *r, int id, const char *p, size_t len) {
  ssize_t sent = SendNow(r, id, p, len);
  if (sent < 0) return false;
  if ((size_t)sent == len) return true;
  size_t rest = len - (size_t)sent;
  r->stash = static_cast<char *>(malloc(rest));
  if (!r->stash) {
    Finish(r, id, -ENOMEM, kFailNone);
    return false;
  }
  memcpy(r->stash, p + sent, rest);
  r->stash_off = 0;
  r->stash_len = (uint32_t)rest;
  ReleasePipe(r, true);
  if (!WaitWritable(r, id)) Finish(r, id, -EBUSY, kFailRing);
  return false;
}

/* Sends what a stalled copy left in the relay's stash; false when it must wait (POLLOUT armed) or the relay ended. */
bool RelayTable::SendStash(Relay *r, int id) {
  ssize_t sent = SendNow(r, id, r->stash + r->stash_off, r->stash_len);
  if (sent < 0) return false;
  r->stash_off += (uint32_t)sent;
  r->stash_len -= (uint32_t)sent;
  if (r->stash_len > 0) {
    if (!WaitWritable(r, id)) Finish(r, id, -EBUSY, kFailRing);
    return false;
  }
  DropStash(r);
  return true;
}

void RelayTable::DropStash(Relay *r) {
  free(r->stash);
  r->stash = nullptr;
  r->stash_off = r->stash_len = 0;
}

void RelayTable::Finish(Relay *r, int id, int32_t res, RelayFailure why) {
  if (r->finished) return;
  r->finished = true;
  r->result = res;
  r->failure = res < 0 ? why : kFailNone;
  ReleasePipe(r, r->buffered == 0); /* bytes left inside: the pipe is closed, never reused */
  r->buffered = 0;
  DropStash(r);
  if (r->read_armed) CancelOp(r, id, kRead);
  if (r->write_armed) CancelOp(r, id, kWrite);
  if (r->watch_armed) CancelOp(r, id, kWatch);
  r->write_wait = false;
  if (r->recv_armed) CancelOp(r, id, kRecv);
  if (r->send_inflight) CancelOp(r, id, kSend);
  r->waiting_bufs = false;
  /* Queued buffers go back now, except one a send may still read from (OnSend returns it). */
  int16_t b = r->qhead;
  if (r->send_inflight) {
    b = bufs_.next[r->qhead];
    bufs_.next[r->qhead] = -1;
    r->qtail = r->qhead;
    r->qbufs = 1;
  } else {
    r->qhead = r->qtail = -1;
    r->qbufs = 0;
  }
  while (b >= 0) {
    int16_t next = bufs_.next[b];
    GiveBack((uint16_t)b);
    b = next;
  }
  r->queued = 0;
  /* Nothing of it in the kernel (e.g. cancelled while waiting for a buffer):
   * a NOP brings the CQE its end is reported with. */
  if (Idle(r)) PostNop(r, id);
}

bool RelayTable::Report(Relay *r, int32_t *out) {
  if (!r->finished || r->reported || !Idle(r)) return false;
  r->reported = true;
  out[CQE_SLOT] = (int32_t)(r - relays_.data());
  out[CQE_GEN] = (int32_t)URING_NATIVE_GEN;
  out[CQE_RES] = r->result;
  out[CQE_FLAGS] = 0;
  live_--;
  ring_->RelayEnded();
  return true;
}

bool RelayTable::OnCqe(const struct io_uring_cqe *c, int32_t *out) {
  int id = (int)(uint32_t)c->user_data;
  uint32_t gen = (uint32_t)(c->user_data >> 32) & kGenMask;
  unsigned kind = (unsigned)(c->user_data >> 60) & 7;
  Relay *r = Get(id);
  if (!r || r->gen != gen || r->reported || kind == kCancel) {
    /* A stale CQE may still carry a buffer the kernel took: give it back. */
    if (kind == kRecv && (c->flags & IORING_CQE_F_BUFFER)) {
      bufs_held_++;
      GiveBack((uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT));
    }
    return false;
  }
  switch (kind) {
    case kRead: {
      if (!(c->flags & IORING_CQE_F_MORE)) {
        r->read_armed = false;
        ring_->DropDeferredCancel(RelayData(id, r->gen, kRead));
      }
      if (r->finished) break;
      if (c->res < 0) {
        Finish(r, id, c->res, kFailPoll);
        break;
      }
      uint64_t taken = r->taken;
      Step(r, id);
      if (!r->edge && !r->finished && r->taken == taken && !r->write_wait && !r->resume_pending) r->edge = true;
      break;
    }
    case kWrite:
      if (!(c->flags & IORING_CQE_F_MORE)) {
        r->write_armed = false;
        ring_->DropDeferredCancel(RelayData(id, r->gen, kWrite));
      }
      if (r->finished) break;
      if (c->res < 0) {
        Finish(r, id, c->res, kFailPollOut);
        break;
      }
      if (!r->write_wait) break; /* multishot: a wake-up while the relay does not wait for dst */
      r->write_wait = false;
      if (r->copy) {
        SendNext(r, id); /* POLLERR/POLLHUP show up as the send's error */
        break;
      }
      /* Woken without POLLOUT: a condition set for good (relay.h, "Waiting
       * for dst"); if dst is still full, the next wait is multishot. */
      if (!(c->res & POLLOUT)) r->out_edge = true;
      Step(r, id); /* POLLERR/POLLHUP show up as the splice's error */
      break;
    case kWatch:
      OnWatch(r, id, c);
      break;
    case kResume:
      r->resume_pending = false;
      Step(r, id);
      break;
    case kRecv:
      OnRecv(r, id, c);
      break;
    case kSend:
      OnSend(r, id, c->res);
      break;
  }
  /* Splice and auto relays wait for src again once this CQE's work is done
   * (also after a multishot the kernel ended, e.g. under memory pressure). */
  Rearm(r, id);
  return Report(r, out);
}

void RelayTable::Cancel(int id) {
  Relay *r = Get(id);
  if (r && !r->finished) Finish(r, id, -ECANCELED, kFailNone);
}

double RelayTable::Bytes(int id) const {
  Relay *r = Get(id);
  return r ? (double)r->bytes : -1;
}

double RelayTable::End(int id, int *failure, double *copied) {
  Relay *r = Get(id);
  if (!r || !r->reported) return -1;
  double bytes = (double)r->bytes;
  *failure = r->failure;
  *copied = (double)(r->copy ? r->bytes : r->copied); /* copy mode copies everything */
  r->in_use = false;
  free_.push_back(id);
  return bytes;
}

void RelayTable::AfterBatch() {
  if (!bufs_.ready()) return;
  /* Waiters whose ENOBUFS came after the last buffer was given back. */
  for (unsigned free_bufs = RelayBufs::kCount - bufs_held_; free_bufs > 0 && WakeOne(); free_bufs--) {
  }
}

void RelayTable::Clear() {
  for (Relay &r : relays_) {
    if (r.in_use) DropStash(&r);
    if (r.in_use && r.pipe_r >= 0) {
      close(r.pipe_r);
      close(r.pipe_w);
      r.pipe_r = r.pipe_w = -1;
    }
    r.in_use = false;
  }
  for (const PooledPipe &p : idle_) {
    close(p.r);
    close(p.w);
  }
  idle_.clear();
  /* The kernel tears a ring down in the background: a relay it never
   * confirmed ended may still have a recv that could write into the
   * buffers, so they are then left mapped (as a destroyed ring's other
   * unconfirmed memory is kept) rather than handed back for reuse. */
  if (live_ > 0) bufs_.Abandon();
  else bufs_.Release();
  buf_waiters_.clear();
  relays_.clear();
  free_.clear();
  pipes_in_use_ = 0;
  live_ = 0;
}
