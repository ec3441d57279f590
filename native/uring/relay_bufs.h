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
  int Init(int ring_fd);
  bool ready() const { return data_ != nullptr; }
  char *Addr(uint16_t bid) const { return data_ + (size_t)bid * kSize; }
  /* Hands buffer `bid` back to the kernel. */
  void Recycle(uint16_t bid);
  /* Gives every buffer's pages back to the kernel (MADV_DONTNEED); the next
   * recv into one faults in fresh zero pages. Only while no buffer holds
   * bytes and the kernel cannot be writing into one (see relay.cc). */
  void DropPages();
  /* Unmaps everything; only once the kernel can no longer use the group (its ring is closed). */
  void Release();
  /* Forgets the memory without unmapping it: the kernel might still write
   * into it (a ring torn down with relays it never confirmed ended). */
  void Abandon();

  /* Per-buffer queue links and what is left to send from it. */
  int16_t next[kCount];
  uint32_t off[kCount];
  uint32_t len[kCount];

 private:
  void Put(uint16_t bid);
  char *data_ = nullptr;
  struct io_uring_buf *bufs_ = nullptr;
  uint16_t *tailp_ = nullptr;
  uint16_t tail_ = 0;
};

#endif
