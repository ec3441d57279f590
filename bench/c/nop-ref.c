/*
 * nop-ref.c - the C reference for bench/nop: batches of `batch` NOPs on the
 * project's own ring layer; each batch is submitted with one io_uring_enter
 * that also waits for all of its completions. Runs `seconds` and prints one
 * JSON line: {"batch":B,"nops":N,"seconds":S,"nopsPerSec":R}.
 *
 * usage: nop-ref [batch=32] [seconds=2]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring.h"
#include "prep.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  unsigned batch = argc > 1 ? (unsigned)atoi(argv[1]) : 32;
  double seconds = argc > 2 ? atof(argv[2]) : 2;
  struct ur_ring ring;
  int r = ur_init_best(&ring, 256, 2048, 1);
  if (r < 0) {
    fprintf(stderr, "nop-ref: io_uring_setup: %s\n", strerror(-r));
    return 1;
  }
  if (batch == 0 || batch > ring.sq.entries) batch = ring.sq.entries;
  unsigned long long nops = 0;
  double t0 = now(), t = t0;
  while (t - t0 < seconds) {
    for (int rep = 0; rep < 64; rep++) {
      for (unsigned i = 0; i < batch; i++) {
        struct io_uring_sqe *sqe = ur_get_sqe(&ring);
        ur_prep_nop(sqe);
        ur_sqe_set_data(sqe, i);
      }
      r = ur_submit(&ring, batch, 1);
      if (r < 0) {
        fprintf(stderr, "nop-ref: io_uring_enter: %s\n", strerror(-r));
        return 1;
      }
      unsigned ready = ur_cq_ready(&ring);
      ur_cq_advance(&ring, ready);
      nops += ready;
    }
    t = now();
  }
  double el = t - t0;
  printf("{\"batch\":%u,\"nops\":%llu,\"seconds\":%.6f,\"nopsPerSec\":%.1f}\n", batch, nops, el, (double)nops / el);
  ur_exit(&ring);
  return 0;
}
