/*
 * ring.h - the project's own io_uring layer, written on the kernel UAPI.
 *
 * One struct ur_ring owns a ring fd and its three mappings (SQ ring, CQ ring,
 * SQE array). The submission side hands out SQEs from a locally tracked tail
 * and publishes them with a release store; the completion side reads the
 * kernel's tail with an acquire load and returns entries with a release store
 * of the head. Nothing here allocates per operation.
 *
 * The layer is single-threaded by design: one ring per thread.
 */
#ifndef URING_RING_H
#define URING_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "compat.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ur_sq {
  unsigned *khead;   /* kernel-owned consumer index */
  unsigned *ktail;   /* our producer index, published to the kernel */
  unsigned *kflags;  /* IORING_SQ_* flags */
  unsigned *kdropped;
  unsigned *array;   /* index array (identity-mapped once at setup) */
  struct io_uring_sqe *sqes;
  unsigned mask;
  unsigned entries;
  unsigned sqe_head; /* first SQE not yet published */
  unsigned sqe_tail; /* next SQE to hand out */
  void *ring_ptr;
  size_t ring_sz;
  size_t sqes_sz;
};

struct ur_cq {
  unsigned *khead;   /* our consumer index, published to the kernel */
  unsigned *ktail;   /* kernel-owned producer index */
  unsigned *koverflow;
  struct io_uring_cqe *cqes;
  unsigned mask;
  unsigned entries;
  void *ring_ptr;
  size_t ring_sz;
};

struct ur_ring {
  struct ur_sq sq;
  struct ur_cq cq;
  int fd;
  unsigned setup_flags; /* the flags the kernel accepted */
  unsigned features;    /* IORING_FEAT_* reported by the kernel */
};

/* Raw system calls (glibc has no wrappers). Return -errno on failure. */
int ur_sys_setup(unsigned entries, struct io_uring_params *p);
int ur_sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags);
int ur_sys_enter_arg(int fd, unsigned to_submit, unsigned min_complete, unsigned flags,
                     const void *arg, size_t argsz);
int ur_sys_register(int fd, unsigned opcode, const void *arg, unsigned nr_args);

/*
 * Set up a ring with exactly the given params. Returns 0 or -errno.
 * On failure the ring is left zeroed with fd -1.
 */
int ur_init_params(struct ur_ring *ring, unsigned entries, struct io_uring_params *p);

/*
 * Set up a ring for a single-threaded owner. Tries, in order, the flag sets
 * that suit an event loop best and falls back while the kernel refuses them
 * with EINVAL: SINGLE_ISSUER|DEFER_TASKRUN (6.1), then the plain ring.
 * SUBMIT_ALL, CQSIZE and CLAMP are requested in every attempt where known.
 * Returns 0 or -errno of the last attempt.
 */
int ur_init_best(struct ur_ring *ring, unsigned sq_entries, unsigned cq_entries,
                 int allow_defer_taskrun);

/* Unmap and close. Safe to call twice. */
void ur_exit(struct ur_ring *ring);

/* Number of SQEs handed out but not yet submitted to the kernel. */
static inline unsigned ur_sq_pending(const struct ur_ring *ring) {
  return ring->sq.sqe_tail - ring->sq.sqe_head;
}

/* Free SQE slots right now (as seen by an acquire load of the kernel head). */
static inline unsigned ur_sq_space(const struct ur_ring *ring) {
  unsigned head = __atomic_load_n(ring->sq.khead, __ATOMIC_ACQUIRE);
  return ring->sq.entries - (ring->sq.sqe_tail - head);
}

/* Next free SQE, zeroed, or NULL when the SQ is full (submit, then retry). */
struct io_uring_sqe *ur_get_sqe(struct ur_ring *ring);

/*
 * Publish every handed-out SQE and enter the kernel once.
 * wait_nr > 0 also waits for that many completions; getevents asks the kernel
 * to run deferred task work (needed with DEFER_TASKRUN) even with wait_nr 0.
 * Returns the number of SQEs the kernel consumed, or -errno.
 */
int ur_submit(struct ur_ring *ring, unsigned wait_nr, int getevents);

/*
 * Submit what is queued and wait up to `timeout_ns` for `wait_nr` completions
 * (IORING_ENTER_EXT_ARG, 5.11). Returns >= 0, -ETIME on timeout, or -errno.
 */
int ur_wait_timeout(struct ur_ring *ring, unsigned wait_nr, long long timeout_ns);

/* CQEs ready to be read (acquire load of the kernel tail). */
static inline unsigned ur_cq_ready(const struct ur_ring *ring) {
  unsigned tail = __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);
  return tail - *ring->cq.khead;
}

/* The CQE at position `i` past the current head (i < ur_cq_ready()). */
static inline const struct io_uring_cqe *ur_cq_peek(const struct ur_ring *ring, unsigned i) {
  return &ring->cq.cqes[(*ring->cq.khead + i) & ring->cq.mask];
}

/* Hand `n` CQEs back to the kernel (release store of the head). */
static inline void ur_cq_advance(struct ur_ring *ring, unsigned n) {
  __atomic_store_n(ring->cq.khead, *ring->cq.khead + n, __ATOMIC_RELEASE);
}

/* Registration. All return 0 (or a count) on success, -errno on failure. */
int ur_register_buffers(struct ur_ring *ring, const struct iovec *iov, unsigned n);
int ur_unregister_buffers(struct ur_ring *ring);
int ur_register_eventfd(struct ur_ring *ring, int efd);
int ur_unregister_eventfd(struct ur_ring *ring);
/* Cancels every request on `fd` and returns once they are cancelled
 * (IORING_REGISTER_SYNC_CANCEL, Linux 6.0): the count, -ENOENT when none,
 * -EINVAL on older kernels. Their CQEs may still wait in deferred task work. */
int ur_cancel_fd_sync(struct ur_ring *ring, int fd);
/* Cancels every request in flight and returns once they are cancelled (or
 * after timeout_ms: -ETIME); -ENOENT when there was none. Linux 6.0+. */
int ur_cancel_all_sync(struct ur_ring *ring, unsigned timeout_ms);
/* Fills `supported` (length `cap`) with 1 for each opcode the kernel knows;
 * returns the number of opcodes the kernel reported (last_op + 1). */
int ur_probe(struct ur_ring *ring, uint8_t *supported, unsigned cap);

#ifdef __cplusplus
}
#endif

#endif
