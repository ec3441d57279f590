/*
 * fd_results.h - which requests in flight will complete with a new fd.
 *
 * An accept, open or socket request completes with a file descriptor that
 * JavaScript adopts (owned_fds.cc) when it settles the request. If the
 * environment goes away first (a worker terminated or crashed), its CQE is
 * never delivered and the fd would stay open in the process for good.
 * The submit path marks such requests here by slot and generation (JavaScript
 * flags them in the operation record). The
 * completion path closes the fds of records JavaScript did not take (a
 * delivery cut short by the end of the environment), and the teardown those
 * of every CQE still in the CQ, in the kernel's overflow list or in deferred
 * work it has yet to run. One store per submitted request.
 */
#ifndef URING_FD_RESULTS_H
#define URING_FD_RESULTS_H

#include <stdint.h>

#include <vector>


class FdResults {
 public:
  /* The request going out with this user_data: remember whether its result
   * is a new fd (JavaScript says so in the record: REC_FD_RESULT, from the
   * slot's fdResult, so the list of such operations lives in one place). */
  void Note(uint64_t user_data, bool makes_fd) {
    uint32_t slot = (uint32_t)user_data;
    if (makes_fd) {
      if (slot >= gen_.size()) gen_.resize((size_t)slot + 1 > 2 * gen_.size() ? (size_t)slot + 1 : 2 * gen_.size(), 0);
      gen_[slot] = kMarked | (user_data >> 32);
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

  std::vector<uint64_t> gen_; /* per slot: kMarked | generation, or 0 */
};

#endif
