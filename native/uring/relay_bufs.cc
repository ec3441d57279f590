/*
 * relay_bufs.cc - the provided-buffer group of copy-mode relays (relay_bufs.h).
 */
#include "relay_bufs.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ring.h"

RelayBufs::~RelayBufs() { Release(); }

int RelayBufs::Init(int ring_fd, const char **syscall) {
  if (data_) return 0;
  *syscall = "mmap";
  void *data = mmap(nullptr, (size_t)kCount * kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) return -ENOMEM;
  void *ring = mmap(nullptr, kCount * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (ring == MAP_FAILED) {
    munmap(data, (size_t)kCount * kSize);
    return -ENOMEM;
  }
  data_ = static_cast<char *>(data);
  /* Indexed as a plain array (see pbuf.cc): the tail overlays entry 0's `resv`. */
  bufs_ = static_cast<struct io_uring_buf *>(ring);
  tailp_ = &bufs_[0].resv;
  tail_ = 0;
  for (uint32_t i = 0; i < kCount; i++) Put((uint16_t)i);
  __atomic_store_n(tailp_, tail_, __ATOMIC_RELEASE);
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = (uint64_t)(uintptr_t)ring;
  reg.ring_entries = kCount;
  reg.bgid = kRelayBgid;
  int r = ur_sys_register(ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1);
  if (r < 0) {
    *syscall = "io_uring_register";
    Release();
    return r;
  }
  for (uint32_t i = 0; i < kCount; i++) {
    next[i] = -1;
    written[i] = 0;
    trimmed_ns[i] = 0;
  }
  return 0;
}

void RelayBufs::Put(uint16_t bid) {
  struct io_uring_buf *b = &bufs_[tail_ & (kCount - 1)];
  b->addr = (uint64_t)(uintptr_t)Addr(bid);
  b->len = kSize;
  b->bid = bid;
  tail_++;
}

void RelayBufs::Recycle(uint16_t bid) {
  Put(bid);
  __atomic_store_n(tailp_, tail_, __ATOMIC_RELEASE);
}

bool RelayBufs::RecycleTrimmed(uint16_t bid) {
  bool trim = false;
  if (written[bid] > 4096) { /* the clock is read only when a trim is possible */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    trim = now_ns - trimmed_ns[bid] >= 1000000000ull;
    if (trim) {
      madvise(Addr(bid), kSize, MADV_DONTNEED);
      trimmed_ns[bid] = now_ns;
      written[bid] = 0;
    }
  }
  Recycle(bid);
  return trim;
}

void RelayBufs::Abandon() {
  data_ = nullptr;
  bufs_ = nullptr;
  tailp_ = nullptr;
}

void RelayBufs::Release() {
  if (data_) munmap(data_, (size_t)kCount * kSize);
  if (bufs_) munmap(bufs_, kCount * sizeof(struct io_uring_buf));
  data_ = nullptr;
  bufs_ = nullptr;
  tailp_ = nullptr;
}
