/*
 * ring.c - setup, teardown, submission and registration for struct ur_ring.
 * See ring.h for the contract; prep.h holds the per-opcode SQE helpers.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/time_types.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

int ur_sys_setup(unsigned entries, struct io_uring_params *p) {
  long r = syscall(__NR_io_uring_setup, entries, p);
  return r < 0 ? -errno : (int)r;
}

int ur_sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  long r = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, (size_t)0);
  return r < 0 ? -errno : (int)r;
}

int ur_sys_enter_arg(int fd, unsigned to_submit, unsigned min_complete, unsigned flags,
                     const void *arg, size_t argsz) {
  long r = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz);
  return r < 0 ? -errno : (int)r;
}

int ur_sys_register(int fd, unsigned opcode, const void *arg, unsigned nr_args) {
  long r = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);
  return r < 0 ? -errno : (int)r;
}

static void ur_reset(struct ur_ring *ring) {
  memset(ring, 0, sizeof(*ring));
  ring->fd = -1;
}

static void ur_unmap(struct ur_ring *ring) {
  if (ring->sq.sqes && ring->sq.sqes != MAP_FAILED) munmap(ring->sq.sqes, ring->sq.sqes_sz);
  if (ring->cq.ring_ptr && ring->cq.ring_ptr != MAP_FAILED && ring->cq.ring_ptr != ring->sq.ring_ptr)
    munmap(ring->cq.ring_ptr, ring->cq.ring_sz);
  if (ring->sq.ring_ptr && ring->sq.ring_ptr != MAP_FAILED) munmap(ring->sq.ring_ptr, ring->sq.ring_sz);
}

/* Map the SQ ring, CQ ring and SQE array described by `p` for ring->fd. */
static int ur_map(struct ur_ring *ring, const struct io_uring_params *p) {
  struct ur_sq *sq = &ring->sq;
  struct ur_cq *cq = &ring->cq;
  int no_array = (p->flags & IORING_SETUP_NO_SQARRAY) != 0;

  sq->ring_sz = p->sq_off.array + (no_array ? 0 : p->sq_entries * sizeof(unsigned));
  if (no_array) sq->ring_sz = p->sq_off.dropped + sizeof(unsigned) * 2;
  cq->ring_sz = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
  if (p->features & IORING_FEAT_SINGLE_MMAP) {
    if (cq->ring_sz > sq->ring_sz) sq->ring_sz = cq->ring_sz;
    cq->ring_sz = sq->ring_sz;
  }

  sq->ring_ptr = mmap(NULL, sq->ring_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      ring->fd, IORING_OFF_SQ_RING);
  if (sq->ring_ptr == MAP_FAILED) { sq->ring_ptr = NULL; return -errno; }

  if (p->features & IORING_FEAT_SINGLE_MMAP) {
    cq->ring_ptr = sq->ring_ptr;
  } else {
    cq->ring_ptr = mmap(NULL, cq->ring_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                        ring->fd, IORING_OFF_CQ_RING);
    if (cq->ring_ptr == MAP_FAILED) { cq->ring_ptr = NULL; return -errno; }
  }

  sq->sqes_sz = p->sq_entries * sizeof(struct io_uring_sqe);
  sq->sqes = mmap(NULL, sq->sqes_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                  ring->fd, IORING_OFF_SQES);
  if (sq->sqes == MAP_FAILED) { sq->sqes = NULL; return -errno; }

  char *sp = (char *)sq->ring_ptr;
  sq->khead = (unsigned *)(sp + p->sq_off.head);
  sq->ktail = (unsigned *)(sp + p->sq_off.tail);
  sq->kflags = (unsigned *)(sp + p->sq_off.flags);
  sq->kdropped = (unsigned *)(sp + p->sq_off.dropped);
  sq->array = no_array ? NULL : (unsigned *)(sp + p->sq_off.array);
  sq->mask = *(unsigned *)(sp + p->sq_off.ring_mask);
  sq->entries = *(unsigned *)(sp + p->sq_off.ring_entries);
  sq->sqe_head = sq->sqe_tail = *sq->ktail;

  char *cp = (char *)cq->ring_ptr;
  cq->khead = (unsigned *)(cp + p->cq_off.head);
  cq->ktail = (unsigned *)(cp + p->cq_off.tail);
  cq->koverflow = (unsigned *)(cp + p->cq_off.overflow);
  cq->cqes = (struct io_uring_cqe *)(cp + p->cq_off.cqes);
  cq->mask = *(unsigned *)(cp + p->cq_off.ring_mask);
  cq->entries = *(unsigned *)(cp + p->cq_off.ring_entries);

  /* SQE i always sits at array slot i: the array never changes afterwards. */
  if (sq->array)
    for (unsigned i = 0; i < sq->entries; i++) sq->array[i] = i;
  return 0;
}

int ur_init_params(struct ur_ring *ring, unsigned entries, struct io_uring_params *p) {
  ur_reset(ring);
  int fd = ur_sys_setup(entries, p);
  if (fd < 0) return fd;
  ring->fd = fd;
  ring->setup_flags = p->flags;
  ring->features = p->features;
  int r = ur_map(ring, p);
  if (r < 0) {
    ur_exit(ring);
    return r;
  }
  return 0;
}

int ur_init_best(struct ur_ring *ring, unsigned sq_entries, unsigned cq_entries,
                 int allow_defer_taskrun) {
  /*
   * COOP_TASKRUN is deliberately not tried: it queues completion task work
   * without waking the task, and this thread sleeps in epoll_wait (libuv),
   * not in io_uring_enter, so completions that need task work would wait
   * for an unrelated wake-up. DEFER_TASKRUN instead signals the registered
   * eventfd when work is queued, and the poller runs it with GETEVENTS.
   */
  static const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  /* TASKRUN_FLAG: the kernel marks the SQ ring when deferred work is
   * waiting, so the poller can tell without a system call whether another
   * GETEVENTS enter would find anything (complete.cc). */
  const unsigned attempts[] = {
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_SUBMIT_ALL,
      0,
  };
  int r = -EINVAL;
  for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
    if (!allow_defer_taskrun && (attempts[i] & IORING_SETUP_DEFER_TASKRUN)) continue;
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = base | attempts[i];
    p.cq_entries = cq_entries;
    r = ur_init_params(ring, sq_entries, &p);
    if (r != -EINVAL) return r; /* success, or a refusal no flag change can fix */
  }
  return r;
}

void ur_exit(struct ur_ring *ring) {
  ur_unmap(ring);
  if (ring->fd >= 0) close(ring->fd);
  ur_reset(ring);
}

struct io_uring_sqe *ur_get_sqe(struct ur_ring *ring) {
  struct ur_sq *sq = &ring->sq;
  unsigned head = __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
  if (sq->sqe_tail - head >= sq->entries) return NULL;
  struct io_uring_sqe *sqe = &sq->sqes[sq->sqe_tail & sq->mask];
  sq->sqe_tail++;
  memset(sqe, 0, sizeof(*sqe));
  return sqe;
}

int ur_submit(struct ur_ring *ring, unsigned wait_nr, int getevents) {
  struct ur_sq *sq = &ring->sq;
  unsigned to_submit = sq->sqe_tail - sq->sqe_head;
  if (to_submit) {
    /* The SQE contents must be visible before the kernel sees the new tail. */
    __atomic_store_n(sq->ktail, sq->sqe_tail, __ATOMIC_RELEASE);
    sq->sqe_head = sq->sqe_tail;
  }
  unsigned flags = (wait_nr || getevents) ? IORING_ENTER_GETEVENTS : 0;
  if (!to_submit && !flags) return 0;
  int r;
  do {
    r = ur_sys_enter(ring->fd, to_submit, wait_nr, flags);
  } while (r == -EINTR);
  return r;
}

int ur_wait_timeout(struct ur_ring *ring, unsigned wait_nr, long long timeout_ns) {
  struct ur_sq *sq = &ring->sq;
  unsigned to_submit = sq->sqe_tail - sq->sqe_head;
  if (to_submit) {
    __atomic_store_n(sq->ktail, sq->sqe_tail, __ATOMIC_RELEASE);
    sq->sqe_head = sq->sqe_tail;
  }
  struct __kernel_timespec ts;
  ts.tv_sec = timeout_ns / 1000000000LL;
  ts.tv_nsec = timeout_ns % 1000000000LL;
  struct io_uring_getevents_arg arg;
  memset(&arg, 0, sizeof(arg));
  arg.ts = (uint64_t)(uintptr_t)&ts;
  return ur_sys_enter_arg(ring->fd, to_submit, wait_nr, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                          &arg, sizeof(arg));
}

int ur_register_buffers(struct ur_ring *ring, const struct iovec *iov, unsigned n) {
  return ur_sys_register(ring->fd, IORING_REGISTER_BUFFERS, iov, n);
}

int ur_unregister_buffers(struct ur_ring *ring) {
  return ur_sys_register(ring->fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
}

int ur_register_eventfd(struct ur_ring *ring, int efd) {
  return ur_sys_register(ring->fd, IORING_REGISTER_EVENTFD, &efd, 1);
}

int ur_unregister_eventfd(struct ur_ring *ring) {
  return ur_sys_register(ring->fd, IORING_UNREGISTER_EVENTFD, NULL, 0);
}

int ur_cancel_fd_sync(struct ur_ring *ring, int fd) {
  struct io_uring_sync_cancel_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.fd = fd;
  reg.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
  reg.timeout.tv_sec = -1; /* no timeout: wait until the requests are cancelled */
  reg.timeout.tv_nsec = -1;
  return ur_sys_register(ring->fd, IORING_REGISTER_SYNC_CANCEL, &reg, 1);
}

int ur_cancel_all_sync(struct ur_ring *ring, unsigned timeout_ms) {
  struct io_uring_sync_cancel_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.fd = -1;
  reg.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
  reg.timeout.tv_sec = timeout_ms / 1000;
  reg.timeout.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
  return ur_sys_register(ring->fd, IORING_REGISTER_SYNC_CANCEL, &reg, 1);
}

int ur_probe(struct ur_ring *ring, uint8_t *supported, unsigned cap) {
  const unsigned nops = 256;
  size_t sz = sizeof(struct io_uring_probe) + nops * sizeof(struct io_uring_probe_op);
  struct io_uring_probe *probe = (struct io_uring_probe *)calloc(1, sz);
  if (!probe) return -ENOMEM;
  int r = ur_sys_register(ring->fd, IORING_REGISTER_PROBE, probe, nops);
  if (r < 0) {
    free(probe);
    return r;
  }
  memset(supported, 0, cap);
  unsigned count = (unsigned)probe->last_op + 1;
  for (unsigned i = 0; i < probe->ops_len && i < nops; i++) {
    unsigned op = probe->ops[i].op;
    if (op < cap && (probe->ops[i].flags & IO_URING_OP_SUPPORTED)) supported[op] = 1;
  }
  free(probe);
  return (int)count;
}
