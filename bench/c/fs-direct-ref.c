/*
 * fs-direct-ref.c - the C reference for bench/fs-direct.ts: O_DIRECT random
 * reads of `bs` bytes through registered buffers (IORING_OP_READ_FIXED),
 * `depth` in flight, for `seconds`, on the project's own ring layer
 * (native/uring/ring.c). Prints one line: "iops=<n> ops=<n> seconds=<s>".
 *
 * Usage: fs-direct-ref <file> <seconds> <depth> <bs>
 * Built by the bench script: gcc -O2 -Inative/uring bench/c/fs-direct-ref.c native/uring/ring.c
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "prep.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: the same generator the JavaScript side uses. */
static uint64_t next_rand(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void queue_read(struct ur_ring *r, int fd, char *mem, unsigned bs, unsigned idx, uint64_t blocks) {
  struct io_uring_sqe *sqe = ur_get_sqe(r);
  if (!sqe) {
    ur_submit(r, 0, 0);
    sqe = ur_get_sqe(r);
  }
  uint64_t off = (next_rand() % blocks) * bs;
  ur_prep_read_fixed(sqe, fd, mem + (size_t)idx * bs, bs, off, (int)idx);
  ur_sqe_set_data(sqe, idx);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s <file> <seconds> <depth> <bs>\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  double seconds = atof(argv[2]);
  unsigned depth = (unsigned)atoi(argv[3]);
  unsigned bs = (unsigned)atoi(argv[4]);

  int fd = open(path, O_RDONLY | O_DIRECT);
  if (fd < 0) {
    perror("open O_DIRECT");
    return 1;
  }
  struct stat st;
  fstat(fd, &st);
  uint64_t blocks = (uint64_t)st.st_size / bs;

  struct ur_ring r;
  const char *dt = getenv("UR_DEFER_TASKRUN");
  int ret = ur_init_best(&r, 256, 1024, dt ? atoi(dt) : 1);
  if (ret < 0) {
    fprintf(stderr, "ring: %s\n", strerror(-ret));
    return 1;
  }
  char *mem;
  if (posix_memalign((void **)&mem, 4096, (size_t)depth * bs) != 0) return 1;
  memset(mem, 0, (size_t)depth * bs);
  struct iovec *iov = calloc(depth, sizeof(*iov));
  for (unsigned i = 0; i < depth; i++) {
    iov[i].iov_base = mem + (size_t)i * bs;
    iov[i].iov_len = bs;
  }
  ret = ur_register_buffers(&r, iov, depth);
  if (ret < 0) {
    fprintf(stderr, "register: %s\n", strerror(-ret));
    return 1;
  }

  for (unsigned i = 0; i < depth; i++) queue_read(&r, fd, mem, bs, i, blocks);
  uint64_t ops = 0;
  double start = now_s(), end = start + seconds, t = start;
  unsigned inflight = depth;
  int stopping = 0;
  uint64_t checked = 0;
  while (inflight > 0) {
    ret = ur_submit(&r, 1, 1);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      fprintf(stderr, "submit: %s\n", strerror(-ret));
      return 1;
    }
    unsigned n = ur_cq_ready(&r);
    for (unsigned i = 0; i < n; i++) {
      const struct io_uring_cqe *cqe = ur_cq_peek(&r, i);
      if (cqe->res != (int)bs) {
        fprintf(stderr, "read: %d\n", cqe->res);
        return 1;
      }
      ops++;
      inflight--;
      if (!stopping) {
        queue_read(&r, fd, mem, bs, (unsigned)cqe->user_data, blocks);
        inflight++;
      }
    }
    ur_cq_advance(&r, n);
    if (!stopping && ops - checked >= 256) {
      checked = ops;
      t = now_s();
      if (t >= end) stopping = 1;
    }
  }
  t = now_s();
  printf("iops=%.0f ops=%llu seconds=%.3f\n", ops / (t - start), (unsigned long long)ops, t - start);
  ur_exit(&r);
  close(fd);
  return 0;
}
