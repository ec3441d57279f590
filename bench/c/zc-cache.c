/*
 * zc-cache.c - page-cache control for the cold-cache cells of bench/zero-copy.
 *
 *   zc-cache resident <file>
 *       Prints {"pages":P,"resident":R} for <file>: R of its P pages are in
 *       the page cache (mincore(2) on a PROT_READ mapping that is never
 *       touched, so the check itself faults nothing in).
 *
 *   zc-cache evict <file>
 *       fdatasync(2) + posix_fadvise(POSIX_FADV_DONTNEED) on <file>, then
 *       prints the residency as above.
 *
 *   zc-cache evictor <src> <dst|-> <progress|-> <request-fifo> <reply-fifo>
 *       Serves the sender of one cold run (bench/c/zc-sync.c, bench/zero-copy.ts):
 *       for every byte the sender writes into <request-fifo> (one per timed
 *       repetition, the sender's clock stopped meanwhile) it
 *         1. waits, for a TCP run (<progress> given), until the reader has
 *            consumed every byte sent so far (the reader stores its running
 *            count as a uint64 at the start of <progress>), so every
 *            repetition starts with the connection drained, for every method;
 *         2. fdatasync(2)s <dst> (file sink), so the previous repetition's
 *            dirty pages are on the disk and no writeback overlaps the next one;
 *         3. posix_fadvise(<src>, 0, 0, POSIX_FADV_DONTNEED), repeated (for
 *            at most 2 s) while mincore(2) still shows pages of <src>
 *            resident. A page still referenced elsewhere is not evicted:
 *            after sendfile/splice/vmsplice to TCP the socket buffers hold
 *            page-cache pages, and a buffer the reader has consumed on the
 *            other CPU is freed lazily (skb_attempt_defer_free: it waits on
 *            the allocating CPU's list, net.core.skb_defer_max, until that
 *            CPU next processes network receive work, seconds later on an idle
 *            loopback). Between rounds the evictor therefore sends itself one
 *            loopback UDP datagram from every CPU in turn, which runs the
 *            receive softirq there and frees those buffers;
 *       and replies with 8 bytes: uint32 resident pages, uint32 pages of <src>.
 *       At end of input it prints one JSON line: evictions, the largest
 *       residency it replied, how many extra fadvise rounds were needed, and
 *       the time spent waiting for the reader and for eviction.
 *
 * This is a separate process so that its system calls are not counted with
 * the sender's (strace -f follows the sender's children only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "zc-cache: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_us(long us) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
  nanosleep(&ts, NULL);
}

/* A file and an untouched mapping of it, for mincore(2). */
struct mapped {
  int fd;
  size_t size, pages;
  void *map;
  unsigned char *vec;
};

static void map_file(struct mapped *m, const char *path) {
  m->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (m->fd < 0) die(path);
  struct stat st;
  if (fstat(m->fd, &st) < 0) die("fstat");
  m->size = (size_t)st.st_size;
  if (m->size == 0) {
    errno = EINVAL;
    die("empty file");
  }
  long page = sysconf(_SC_PAGESIZE);
  m->pages = (m->size + (size_t)page - 1) / (size_t)page;
  m->map = mmap(NULL, m->size, PROT_READ, MAP_SHARED, m->fd, 0);
  if (m->map == MAP_FAILED) die("mmap");
  m->vec = malloc(m->pages);
  if (!m->vec) die("malloc");
}

/* Pages of the file in the page cache (root or the owner sees the page cache, not just this mapping). */
static size_t resident(struct mapped *m) {
  if (mincore(m->map, m->size, m->vec) < 0) die("mincore");
  size_t n = 0;
  for (size_t i = 0; i < m->pages; i++) n += m->vec[i] & 1;
  return n;
}

static void dontneed(int fd) {
  int e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  if (e) {
    errno = e;
    die("posix_fadvise");
  }
}

/*
 * Sends one loopback UDP datagram to ourselves from every CPU we may run on:
 * the receive softirq on each CPU frees the socket buffers deferred to it
 * (and with them their references to page-cache pages).
 */
static void flush_deferred_skbs(void) {
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (u < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (bind(u, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(u, (struct sockaddr *)&a, &len) < 0) die("bind");
  cpu_set_t old;
  if (sched_getaffinity(0, sizeof(old), &old) < 0) die("sched_getaffinity");
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &old)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) < 0) continue;
    char b = 0;
    if (sendto(u, &b, 1, 0, (struct sockaddr *)&a, sizeof(a)) != 1 || recv(u, &b, 1, 0) != 1) die("loopback datagram");
  }
  sched_setaffinity(0, sizeof(old), &old);
  close(u);
}

static int cmd_resident(const char *path, int evict) {
  struct mapped m;
  map_file(&m, path);
  if (evict) {
    if (fdatasync(m.fd) < 0) die("fdatasync");
    dontneed(m.fd);
  }
  printf("{\"pages\":%zu,\"resident\":%zu}\n", m.pages, resident(&m));
  return 0;
}

static int cmd_evictor(const char *src, const char *dst, const char *progress, const char *req_path,
                       const char *rep_path) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* short sleeps really short */
  struct mapped m;
  map_file(&m, src);
  volatile uint64_t *count = NULL;
  if (strcmp(progress, "-")) {
    int pfd = open(progress, O_RDONLY | O_CLOEXEC);
    if (pfd < 0) die(progress);
    void *p = mmap(NULL, sizeof(uint64_t), PROT_READ, MAP_SHARED, pfd, 0);
    if (p == MAP_FAILED) die("mmap progress");
    count = p;
    close(pfd);
  }
  int dfd = -1;
  /* Same order as the sender: request FIFO first, then the reply FIFO. */
  int req = open(req_path, O_RDONLY | O_CLOEXEC);
  if (req < 0) die(req_path);
  int rep = open(rep_path, O_WRONLY | O_CLOEXEC);
  if (rep < 0) die(rep_path);
  unsigned long long evictions = 0, extra_rounds = 0, flushes = 0;
  size_t max_resident = 0;
  double wait_reader = 0, wait_evict = 0;
  char c;
  for (;;) {
    ssize_t r = read(req, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("read request");
    if (r == 0) break;
    double t0 = now();
    if (count) {
      uint64_t want = evictions * (uint64_t)m.size;
      while (__atomic_load_n(count, __ATOMIC_ACQUIRE) < want) {
        if (now() - t0 > 10) {
          fprintf(stderr, "zc-cache: reader stuck at %llu of %llu bytes\n",
                  (unsigned long long)*count, (unsigned long long)want);
          exit(1);
        }
        pause_us(20);
      }
    }
    double t1 = now();
    wait_reader += t1 - t0;
    if (strcmp(dst, "-")) {
      if (dfd < 0) dfd = open(dst, O_WRONLY | O_CLOEXEC);
      if (dfd >= 0 && fdatasync(dfd) < 0) die("fdatasync destination");
    }
    size_t res;
    for (int round = 0;; round++) {
      dontneed(m.fd);
      res = resident(&m);
      if (res == 0 || now() - t1 > 2) break;
      extra_rounds++;
      if (round > 0) pause_us(20);
      flush_deferred_skbs();
      flushes++;
    }
    wait_evict += now() - t1;
    if (res > max_resident) max_resident = res;
    evictions++;
    uint32_t reply[2] = {(uint32_t)res, (uint32_t)m.pages};
    if (write(rep, reply, sizeof(reply)) != (ssize_t)sizeof(reply)) die("write reply");
  }
  printf("{\"evictions\":%llu,\"pages\":%zu,\"maxResident\":%zu,\"extraRounds\":%llu,\"flushes\":%llu,"
         "\"waitReaderSeconds\":%.6f,\"evictSeconds\":%.6f}\n",
         evictions, m.pages, max_resident, extra_rounds, flushes, wait_reader, wait_evict);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "resident")) return cmd_resident(argv[2], 0);
  if (argc == 3 && !strcmp(argv[1], "evict")) return cmd_resident(argv[2], 1);
  if (argc == 7 && !strcmp(argv[1], "evictor")) return cmd_evictor(argv[2], argv[3], argv[4], argv[5], argv[6]);
  fprintf(stderr,
          "usage: %s resident <file>\n"
          "       %s evict <file>\n"
          "       %s evictor <src> <dst|-> <progress|-> <request-fifo> <reply-fifo>\n",
          argv[0], argv[0], argv[0]);
  return 2;
}
