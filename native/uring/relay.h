/*
 * relay.h - socket -> pipe -> socket relays driven inside the completion path.
 *
 * A relay moves bytes from one fd to another with non-blocking splice(2)
 * calls through a pipe, until end of stream or an error. Readiness comes
 * from the ring (a one-shot POLL_ADD on the source, re-armed whenever the
 * relay waits for it again, and a POLLOUT poll on the destination while it
 * is full: "Waiting for dst" below); the splices run in C right where the
 * CQE is read (complete.cc), so a relay costs JavaScript nothing per chunk.
 * Its end is reported to JavaScript as one completion record (slot = the
 * relay's id, generation URING_NATIVE_GEN).
 *
 * Two ways to move the bytes:
 *   splice: non-blocking splice(2) through a pipe, on readiness from the
 *     ring. The payload never enters user space,
 *     but for one byte at a TCP urgent mark (splice(2) cannot pass it).
 *     Pipes come from a per-ring pool and are held only while bytes are
 *     inside: an idle relay holds no pipe.
 *   copy: a recv into the ring's relay buffer group (relay_bufs.h) and a
 *     send from the same buffer, both as SQEs: no
 *     system call of its own per message (they go out with the ring's batch).
 *     The kernel copies in and out; for small messages that is cheaper
 *     than moving page references through a pipe.
 *   auto: splice mode's readiness and pipes, but a readiness event first
 *     tries one recv(2) of at most kCopyChunk bytes into the ring's scratch
 *     buffer and a send(2) from it (what the destination does not take is
 *     copied into a buffer of the relay's own and sent on POLLOUT). A recv
 *     that fills the chunk switches the direction to splice, and it stays
 *     there while readiness events bring at least a chunk each: small
 *     messages are copied, bulk moves as page references. Stream sockets only.
 *
 * Why the source's poll is one-shot: a poll armed on the ring checks the
 * socket's state when it is armed (level-triggered), so after a short read
 * (under kCopyChunk) the relay stops and re-arms instead of asking the
 * socket again with a call that would almost always say EAGAIN; whatever
 * was left (a read cut short by a full pipe, by TCP's urgent mark, or data
 * that came meanwhile) fires the new poll at once. A multishot poll fires
 * only on new wake-ups, so it needed that extra call per event (a relay
 * falls back to that when an event finds nothing to read: Relay::edge). Its mask
 * is not trusted for POLLPRI either: after a wake-up the ring reports the
 * waker's mask, and TCP wakes readers with EPOLLPRI on every arrival of
 * data (poll(2) on the same socket says POLLIN only).
 *
 * Waiting for dst: io_uring adds POLLERR, POLLHUP and POLLRDHUP to every
 * poll's mask (IO_POLL_UNMASK in io_uring/poll.c), so once dst's peer has
 * half-closed (it sent its FIN, e.g. a server that answered an upload
 * early, or a client that finished its request and reads the response
 * slowly) a one-shot POLLOUT completes at once with POLLRDHUP alone while
 * dst is still full. A POLLOUT completion without POLLOUT therefore switches
 * that relay's POLLOUT poll to multishot, armed for the rest of its life: it
 * too checks dst when armed (one completion at once if anything is set), then
 * completes only on wake-ups, and the send-space wake-up is the one that
 * matters: a write that says EAGAIN sets SOCK_NOSPACE first, and TCP wakes
 * the socket's waiters with POLLOUT once space is back. The poll stays on
 * the wait queue between completions, so space freed after the write that
 * failed still wakes it; a completion while the relay is not waiting for dst
 * is ignored.
 *
 * A relay waiting for dst reads nothing from src (backpressure), so it does
 * not poll src for POLLIN then (it would fire at once: src has data). To
 * notice a reset of src meanwhile (a client that gives up on a stalled
 * upstream), a multishot poll on src for POLLERR stays armed from the
 * relay's first wait for dst (copy relays: its first stop at the caps) on.
 * Multishot for the same reason as above: POLLRDHUP comes with every mask,
 * and a half-closed src is normal. Data arriving on src wakes with POLLIN
 * and POLLPRI only, which this poll does not take; it completes on state
 * changes and errors. POLLERR with SO_ERROR set while the relay is not
 * reading src ends the relay with that error (it would have come from the
 * next read of src anyway); POLLHUP alone is both halves closed cleanly,
 * and the bytes src still holds are delivered.
 */
#ifndef URING_RELAY_H
#define URING_RELAY_H

#include <stdint.h>
#include <sys/types.h>

#include <vector>

#include "relay_bufs.h"

struct io_uring_cqe;
class RingHandle;

/* The tag bit of relay-owned user_data: never set by JavaScript (its
 * generations are 20 bits), so complete.cc can route these CQEs here. */
static const uint64_t kRelayTag = 1ull << 63;

/* user_data for the ASYNC_CANCEL of a relay SQE: same entry, kind "cancel"
 * (bits 60-62 = 3), so its own CQE is recognised and ignored. */
static inline uint64_t RelayCancelData(uint64_t target) { return (target & ~(7ull << 60)) | (3ull << 60); }

/* Which call ended a relay with an error (reported with it: errors name their
 * syscall and the socket they were on). kFailSplice and kFailPoll are on
 * src (reading, its poll), kFailSpliceOut and kFailPollOut on dst; kFailRecv
 * reads src, kFailSend writes dst; kFailRing and kFailPipe are local. */
enum RelayFailure : uint8_t {
  kFailNone = 0, kFailSplice, kFailRecv, kFailSend, kFailPoll, kFailRing, kFailPipe, kFailSpliceOut, kFailPollOut
};

/* How a relay moves its bytes (relayStart's mode argument). */
enum RelayMode : uint8_t { kModeSplice = 0, kModeCopy = 1, kModeAuto = 2 };

/* auto mode: the most one recv copies; a recv that fills it means bulk. */
static const uint32_t kCopyChunk = 16 * 1024;

struct Relay {
  uint32_t gen = 0;       /* bumped on each reuse of the table entry */
  int src = -1, dst = -1;
  int pipe_r = -1, pipe_w = -1;
  uint32_t pipe_want = 0; /* capacity asked for (0: the kernel's default) */
  uint32_t pipe_cap = 0;  /* capacity of the pipe held now */
  uint32_t buffered = 0;  /* bytes in the pipe */
  uint64_t bytes = 0;     /* bytes delivered to dst */
  uint64_t copied = 0;    /* auto mode: bytes delivered from user-space memory (copy mode: all of them) */
  int32_t result = 0;     /* 0: end of stream; -errno otherwise */
  uint8_t failure = kFailNone;
  uint8_t full_rounds = 0;
  bool in_use = false;
  bool read_armed = false;     /* the POLLIN on src is in the kernel */
  /* An event found nothing to read (a condition no read clears, e.g. an
   * entry on the socket's error queue): from then on the poll is multishot
   * and every event reads on to EAGAIN, as a one-shot poll would fire
   * again at once, without end. */
  bool edge = false;
  uint64_t taken = 0;          /* reads from src that returned bytes or the end */
  bool write_wait = false;     /* dst is full: the relay waits for POLLOUT and reads nothing meanwhile */
  bool write_armed = false;    /* the POLLOUT poll on dst is in the kernel */
  /* A POLLOUT poll completed without POLLOUT (a condition io_uring adds to
   * every poll's mask and no write clears, e.g. dst's peer half-closed):
   * from then on that poll is multishot and stays armed, as a one-shot one
   * would fire again at once, without end (relay.h, "Waiting for dst"). */
  bool out_edge = false;
  /* A multishot poll on src for POLLERR, armed the first time the relay
   * waits for dst (it reads nothing from src then, so a reset would go
   * unnoticed) and kept for the relay's life. */
  bool watch_armed = false;
  bool resume_pending = false; /* a NOP (continue after yielding, or report the end) is in the kernel */
  bool finished = false;
  bool reported = false;
  /* auto mode */
  bool autocopy = false;       /* small reads are copied (recv/send) */
  bool bulk = false;           /* ... but the last readiness event brought a chunk or more: splice */
  bool tcp = false;            /* src is TCP: splice(2) may stop at an urgent mark */
  char *stash = nullptr;       /* received bytes dst did not take yet (malloc'd, <= kCopyChunk) */
  uint32_t stash_off = 0, stash_len = 0;
  /* copy mode */
  bool copy = false;
  bool recv_armed = false;    /* a recv is in the kernel */
  bool send_inflight = false; /* a send from the queue's head buffer is in the kernel */
  bool eof_seen = false;      /* the source ended: finish once the queue is sent */
  bool waiting_bufs = false;  /* the group ran dry (ENOBUFS): re-armed when a buffer comes back */
  uint8_t qbufs = 0;          /* buffers in the queue */
  int16_t qhead = -1, qtail = -1; /* queued buffers, linked through RelayBufs::next */
  uint32_t queued = 0;        /* bytes received and not yet sent */
};

struct PooledPipe {
  int r, w;
  uint32_t cap;
};

/* Per-ring relay state, owned by the RingHandle. */
class RelayTable {
 public:
  explicit RelayTable(RingHandle *ring) : ring_(ring) {}
  ~RelayTable();

  /* Creates a relay and arms it; returns its id or -errno (`*syscall` names
   * the failed call when it was not the argument check). */
  int Start(int src, int dst, uint32_t pipe_size, RelayMode mode, const char **syscall);
  /* Ends a relay early (ECANCELED); its end is reported once the kernel let go. */
  void Cancel(int id);
  /* Bytes delivered so far, or -1 for an unknown id. */
  double Bytes(int id) const;
  /* Frees a reported relay: its bytes, RelayFailure and bytes copied through
   * user-space memory (bytes -1: not reported / unknown). */
  double End(int id, int *failure, double *copied);
  /* Handles one relay CQE; writes the relay's end record to `out` and
   * returns true when the relay has just ended. */
  bool OnCqe(const struct io_uring_cqe *c, int32_t *out);
  /* After a completion batch: re-arm relays that waited for buffers when
   * some are free again. */
  void AfterBatch();
  /* Closes every pipe and forgets every relay (the ring is closed). */
  void Clear();
  unsigned PipesIdle() const { return (unsigned)idle_.size(); }
  unsigned PipesInUse() const { return pipes_in_use_; }
  unsigned Live() const { return live_; }
  unsigned BuffersHeld() const { return bufs_held_; }
  double BufferWaits() const { return buffer_waits_; }
  double BufferTrims() const { return buffer_trims_; }

 private:
  Relay *Get(int id) const;
  static bool Idle(const Relay *r);
  void Step(Relay *r, int id);
  bool CopySmall(Relay *r, int id);
  bool PassUrgentMark(Relay *r, int id);
  ssize_t RecvNow(Relay *r, int id, char *buf, size_t len);
  ssize_t SendNow(Relay *r, int id, const char *p, size_t len);
  bool Forward(Relay *r, int id, const char *p, size_t len);
  bool SendStash(Relay *r, int id);
  static void DropStash(Relay *r);
  void Finish(Relay *r, int id, int32_t res, RelayFailure why);
  bool Report(Relay *r, int32_t *out);
  bool ArmRead(Relay *r, int id);
  void Rearm(Relay *r, int id);
  bool ArmWrite(Relay *r, int id);
  bool WaitWritable(Relay *r, int id);
  void WatchSource(Relay *r, int id);
  bool ReadingSource(const Relay *r) const;
  void OnWatch(Relay *r, int id, const struct io_uring_cqe *c);
  void PostNop(Relay *r, int id);
  void CancelOp(Relay *r, int id, unsigned kind);
  bool ArmRecv(Relay *r, int id);
  void OnRecv(Relay *r, int id, const struct io_uring_cqe *c);
  void OnSend(Relay *r, int id, int32_t res);
  void SendNext(Relay *r, int id);
  bool MaybeRecv(Relay *r, int id, bool finish_on_busy = true);
  void PopHead(Relay *r);
  void GiveBack(uint16_t bid);
  bool WakeOne();
  bool AcquirePipe(Relay *r);
  void ReleasePipe(Relay *r, bool empty);

  RingHandle *ring_;
  std::vector<Relay> relays_;
  std::vector<int> free_;
  std::vector<PooledPipe> idle_;
  uint32_t pool_want_ = 0; /* the size asked for the pooled pipes (the first relay's) */
  bool pool_sized_ = false;
  unsigned pipes_in_use_ = 0;
  RelayBufs bufs_;
  std::vector<char> scratch_; /* auto mode's recv/send buffer (kCopyChunk; the loop thread's alone) */
  /* Copy relays waiting for a free buffer: (id, gen). */
  std::vector<std::pair<int, uint32_t>> buf_waiters_;
  double buffer_waits_ = 0; /* times a copy relay found the group dry */
  unsigned bufs_held_ = 0;   /* buffers received and not yet given back */
  double buffer_trims_ = 0; /* buffers whose pages were given back */
  unsigned live_ = 0;
};

#endif
