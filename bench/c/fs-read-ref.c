/*
 * fs-read-ref.c - the C reference for bench/fs-read: 4 KiB random reads from a
 * file, `depth` in flight, on the project's own ring layer (native/uring).
 *
 * Closed loop: `depth` reads go out; each completion issues the next read at a
 * new random offset; everything prepared while draining one batch of CQEs
 * reaches the kernel with one io_uring_enter (which also waits for the next
 * completion). Runs `warmup` seconds untimed, then `seconds` timed, and prints
 * one JSON line: {"ops":N,"seconds":S,"iops":I,"enters":E,"cpuSeconds":C}.
 *
 * usage: fs-read-ref <file> [seconds=5] [depth=32] [block=4096] [warmup=1]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "prep.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift32: cheap, and the same generator the JavaScript side uses. */
static uint32_t rng_state = 0x9e3779b9u;
static uint32_t next_rand(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, int err) {
  fprintf(stderr, "fs-read-ref: %s: %s\n", what, strerror(err));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <file> [seconds] [depth] [block] [warmup]\n", argv[0]);
    return 2;
  }
  double seconds = argc > 2 ? atof(argv[2]) : 5;
  unsigned depth = argc > 3 ? (unsigned)atoi(argv[3]) : 32;
  unsigned block = argc > 4 ? (unsigned)atoi(argv[4]) : 4096;
  double warmup = argc > 5 ? atof(argv[5]) : 1;

  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) die("open", errno);
  struct stat st;
  if (fstat(fd, &st) < 0) die("fstat", errno);
  uint64_t blocks = (uint64_t)st.st_size / block;
  if (blocks == 0) die("file smaller than one block", EINVAL);

  struct ur_ring ring;
  /* Same setup as the addon: SQ 256, CQ 8x, DEFER_TASKRUN where the kernel has it. */
  int r = ur_init_best(&ring, 256, 2048, 1);
  if (r < 0) die("io_uring_setup", -r);

  char *bufs = aligned_alloc(4096, (size_t)depth * block);
  if (!bufs) die("aligned_alloc", ENOMEM);
  memset(bufs, 0, (size_t)depth * block);

  for (unsigned i = 0; i < depth; i++) {
    struct io_uring_sqe *sqe = ur_get_sqe(&ring);
    ur_prep_read(sqe, fd, bufs + (size_t)i * block, block, (next_rand() % blocks) * block);
    ur_sqe_set_data(sqe, i);
  }

  unsigned long long ops = 0, enters = 0;
  double start = now(), measure_from = start + warmup, stop_at = measure_from + seconds;
  double t0 = 0, cpu0 = 0;
  int measuring = 0;
  for (;;) {
    /* Submit what was prepared and wait for at least one completion. */
    r = ur_submit(&ring, 1, 1);
    enters++;
    if (r < 0 && r != -EAGAIN && r != -EBUSY) die("io_uring_enter", -r);
    unsigned ready = ur_cq_ready(&ring);
    for (unsigned i = 0; i < ready; i++) {
      const struct io_uring_cqe *c = ur_cq_peek(&ring, i);
      if (c->res != (int)block) die("short or failed read", c->res < 0 ? -c->res : EIO);
      unsigned lane = (unsigned)c->user_data;
      struct io_uring_sqe *sqe = ur_get_sqe(&ring);
      if (!sqe) die("SQ full", EBUSY);
      ur_prep_read(sqe, fd, bufs + (size_t)lane * block, block, (next_rand() % blocks) * block);
      ur_sqe_set_data(sqe, lane);
    }
    ur_cq_advance(&ring, ready);
    ops += ready;
    double t = now();
    if (!measuring && t >= measure_from) {
      measuring = 1;
      ops = 0;
      enters = 0;
      t0 = t;
      cpu0 = cpu_seconds();
    } else if (measuring && t >= stop_at) {
      double el = t - t0;
      printf("{\"ops\":%llu,\"seconds\":%.6f,\"iops\":%.1f,\"enters\":%llu,\"cpuSeconds\":%.6f}\n", ops, el,
             (double)ops / el, enters, cpu_seconds() - cpu0);
      break;
    }
  }
  /* Reads still in flight finish on their own; exiting tears the ring down. */
  ur_exit(&ring);
  free(bufs);
  close(fd);
  return 0;
}
