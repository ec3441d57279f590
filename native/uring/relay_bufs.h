/*
 * relay_bufs.h - the provided buffers of a ring's copy-mode relays (relay.h).
 *
 * One IORING_REGISTER_PBUF_RING group per ring, registered on the first
 * copy relay and shared by all of them: each recv takes a buffer, the relay
 * sends from it and hands it back after the send. Each buffer
 * belongs to at most one relay's queue at a time, so the queues are linked
 * through per-buffer arrays here and a relay itself holds two indices.
 * Only pages the kernel writes into become resident.
 */
#ifndef URING_RELAY_BUFS_H
#define URING_RELAY_BUFS_H

#include <stddef.h>
#include <stdint.h>

#include <vector>

struct io_uring_buf;

/* The group id copy relays receive into; JavaScript buffer groups use small ids. */
static const uint16_t kRelayBgid = 0xff00;

class RelayBufs {
 public:
  static const uint32_t kCount = 64;
  static const uint32_t kSize = 256 * 1024;

  ~RelayBufs();
  /* Maps and registers the group with ring `ring_fd`; 0 or -errno. */
  /* 0, or -errno with `*syscall` naming the failed call ("mmap" or "io_uring_register"). */
  int Init(int ring_fd, const char **syscall);
  bool ready() const { return data_ != nullptr; }
  char *Addr(uint16_t bid) const { return data_ + (size_t)bid * kSize; }
  /* Hands buffer `bid` back to the kernel. */
  void Recycle(uint16_t bid);
  /* Hands buffer `bid` back to the kernel, first giving its pages back
   * (MADV_DONTNEED) when more than a page of it was written and it was
   * last trimmed over a second ago: an idle server then does not keep the
   * memory a burst touched. Safe at this point only: a buffer out of the
   * ring is in no recv, so nothing can be writing into it. Returns whether
   * it trimmed. */
  bool RecycleTrimmed(uint16_t bid);
  /* Unmaps everything; only once the kernel can no longer use the group (its ring is closed). */
  void Release();
  /* Forgets the memory without unmapping it: the kernel might still write
   * into it (a ring torn down with relays it never confirmed ended). */
  void Abandon();

  /* Per-buffer queue links and what is left to send from it. */
  int16_t next[kCount];
  uint32_t off[kCount];
  uint32_t len[kCount];
  /* Per buffer: the most bytes a recv wrote since the last trim, and when that was. */
  uint32_t written[kCount];
  uint64_t trimmed_ns[kCount];

 private:
  void Put(uint16_t bid);
  char *data_ = nullptr;
  struct io_uring_buf *bufs_ = nullptr;
  uint16_t *tailp_ = nullptr;
  uint16_t tail_ = 0;
};

#endif
