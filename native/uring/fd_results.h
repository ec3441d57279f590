/*
 * fd_results.h - which requests in flight will complete with a new fd.
 *
 * An accept, open or socket request completes with a file descriptor that
 * JavaScript adopts (owned_fds.cc) when it settles the request. If the
 * environment goes away first (a worker terminated or crashed), its CQE is
 * never delivered and the fd would stay open in the process for good.
 * The submit path marks such requests here by slot and generation. The
 * completion path closes the fds of records JavaScript did not take (a
 * delivery cut short by the end of the environment), and the teardown those
 * of every CQE still in the CQ, in the kernel's overflow list or in deferred
 * work it has yet to run. One store per submitted request.
 */
#ifndef URING_FD_RESULTS_H
#define URING_FD_RESULTS_H

#include <stdint.h>

#include <vector>

#include "compat.h"

class FdResults {
 public:
  /* The request going out with this SQE: remember whether its result is an fd. */
  void Note(const struct io_uring_sqe *sqe) {
    uint32_t slot = (uint32_t)sqe->user_data;
    if (MakesFd(sqe)) {
      if (slot >= gen_.size()) gen_.resize((size_t)slot + 1 > 2 * gen_.size() ? (size_t)slot + 1 : 2 * gen_.size(), 0);
      gen_[slot] = kMarked | (sqe->user_data >> 32);
    } else if (slot < gen_.size()) {
      gen_[slot] = 0; /* the slot now runs something else */
    }
  }

  /* Is `res` of the CQE with this user_data an fd that nobody owns yet? */
  bool IsFd(uint64_t user_data, int32_t res) const {
    uint32_t slot = (uint32_t)user_data;
    return res >= 0 && slot < gen_.size() && gen_[slot] == (kMarked | (user_data >> 32));
  }

 private:
  static const uint64_t kMarked = 1ull << 32;

  /* IORING_OP_FIXED_FD_INSTALL (6.8), by value: Debian 12's header predates it. */
  static const uint8_t kOpFixedFdInstall = 54;

  /* accept, openat, openat2, socket: a plain fd unless it goes into the
   * registered file table (file_index set: the result is then 0 or a slot).
   * fixed_fd_install: always a plain fd. */
  static bool MakesFd(const struct io_uring_sqe *sqe) {
    switch (sqe->opcode) {
      case IORING_OP_ACCEPT:
      case IORING_OP_OPENAT:
      case IORING_OP_OPENAT2:
      case IORING_OP_SOCKET:
        return sqe->file_index == 0;
      case kOpFixedFdInstall:
        return true;
      default:
        return false;
    }
  }

  std::vector<uint64_t> gen_; /* per slot: kMarked | generation, or 0 */
};

#endif
