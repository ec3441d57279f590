/*
 * zc-sync.c - the zero-copy matrix (bench/zero-copy) with plain blocking
 * system calls: move a file to a TCP socket on loopback, or to another file,
 * by one of several methods, repeatedly, and report throughput and CPU time.
 *
 * Methods:
 *   rw        read(2) into a 128 KiB user buffer, write(2) it out
 *   mmap      mmap(2) the file, write(2) from the mapping, munmap(2)
 *   sendfile  sendfile(2) file -> sink
 *   splice    splice(2) file -> pipe -> sink (pipe raised to 1 MiB with F_SETPIPE_SZ)
 *   vmsplice  mmap(2) the file, vmsplice(2) the mapping into a pipe, splice(2) pipe -> sink
 *   cfr       copy_file_range(2) (file sink only)
 *   direct    read(2) from a second descriptor opened with O_DIRECT into a
 *             1 MiB aligned buffer (less for smaller files), write(2) it out
 *   none      moves nothing (measures the per-repetition cost of the
 *             cold-cache handshake below, for the system-call counts)
 *
 * Each repetition moves the whole source file (offset 0 to its size); the
 * run repeats until `total` bytes have moved. File sink: the destination is
 * rewritten from offset 0 each time (page cache, no fsync).
 *
 * Cold cache: with <request-fifo> <reply-fifo>, before every repetition the
 * sender writes one byte to the request FIFO and waits for the 8-byte reply
 * of bench/c/zc-cache.c's evictor (which waits for the reader to catch up,
 * fdatasyncs the destination, evicts the source from the page cache and
 * reports how many of its pages are still resident). The wall-clock and CPU
 * time of that handshake are subtracted from the figures; the JSON line adds
 * the largest residency seen ("residentMax", pages of "pages").
 *
 * TCP sink: a reader process (this program in "reader" mode, started by the
 * caller) accepts one connection, drains and counts until EOF, replies with
 * the 8-byte count and prints its own CPU time. With a <progress> file it
 * also stores its running count there (a uint64 in shared memory, no system
 * call) for the evictor. The sender stops its clock
 * when that reply arrives, so the time covers delivery, not just queueing.
 *
 * usage:
 *   zc-sync reader [<progress>]                      prints {"port":P}, then {"bytes":B,"cpuSeconds":C}
 *   zc-sync send <method> <src> tcp <port> <total> [<request-fifo> <reply-fifo>]
 *   zc-sync send <method> <src> file <dst> <total> [<request-fifo> <reply-fifo>]
 *                                                    prints one JSON line of results
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define RW_CHUNK (128 * 1024)
#define DIRECT_CHUNK (1024 * 1024)
#define PIPE_SIZE (1024 * 1024)

static void die(const char *what) {
  fprintf(stderr, "zc-sync: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------ reader */

static int reader(const char *progress) {
  volatile uint64_t *shared = NULL;
  if (progress) {
    int pfd = open(progress, O_RDWR | O_CLOEXEC);
    if (pfd < 0) die("open progress file");
    void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
    if (p == MAP_FAILED) die("mmap progress file");
    shared = p;
    close(pfd);
  }
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket");
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) die("bind");
  if (listen(lfd, 1) < 0) die("listen");
  socklen_t len = sizeof(sa);
  getsockname(lfd, (struct sockaddr *)&sa, &len);
  printf("{\"port\":%d}\n", ntohs(sa.sin_port));
  fflush(stdout);
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) die("accept");
  double cpu0 = cpu_seconds();
  size_t cap = 256 * 1024;
  char *buf = malloc(cap);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, cap);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("reader read");
    }
    if (n == 0) break;
    total += (uint64_t)n;
    if (shared) __atomic_store_n(shared, total, __ATOMIC_RELEASE);
  }
  if (write(fd, &total, sizeof(total)) != (ssize_t)sizeof(total)) die("reader reply");
  close(fd);
  printf("{\"bytes\":%llu,\"cpuSeconds\":%.6f}\n", (unsigned long long)total, cpu_seconds() - cpu0);
  return 0;
}

/* ----------------------------------------------------------------- methods */

/* Writes all of buf to fd (at *pos when pos is not NULL). */
static void write_all(int fd, const char *buf, size_t n, off_t *pos) {
  while (n > 0) {
    ssize_t w = pos ? pwrite(fd, buf, n, *pos) : write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    buf += w;
    n -= (size_t)w;
    if (pos) *pos += w;
  }
}

/* Moves pipe contents (n bytes) to the sink. */
static void drain_pipe(int pr, int out, size_t n, off_t *pos) {
  while (n > 0) {
    ssize_t s = splice(pr, NULL, out, pos, n, SPLICE_F_MOVE);
    if (s < 0) {
      if (errno == EINTR) continue;
      die("splice pipe -> sink");
    }
    if (s == 0) die("splice: pipe empty");
    n -= (size_t)s;
  }
}

struct ctx {
  int src, out, file_sink;
  size_t size;
  char *buf;
  int dsrc; /* the source opened with O_DIRECT (method "direct") */
  char *dbuf;
  int pipe_r, pipe_w;
  size_t pipe_cap;
};

static void once_rw(struct ctx *c) {
  off_t in = 0, pos = 0;
  while ((size_t)in < c->size) {
    ssize_t n = pread(c->src, c->buf, RW_CHUNK, in);
    if (n < 0) die("pread");
    if (n == 0) break;
    in += n;
    write_all(c->out, c->buf, (size_t)n, c->file_sink ? &pos : NULL);
  }
}

static void once_mmap(struct ctx *c) {
  char *m = mmap(NULL, c->size, PROT_READ, MAP_SHARED, c->src, 0);
  if (m == MAP_FAILED) die("mmap");
  off_t pos = 0;
  write_all(c->out, m, c->size, c->file_sink ? &pos : NULL);
  munmap(m, c->size);
}

static void once_sendfile(struct ctx *c) {
  off_t in = 0;
  if (c->file_sink && lseek(c->out, 0, SEEK_SET) < 0) die("lseek");
  while ((size_t)in < c->size) {
    ssize_t n = sendfile(c->out, c->src, &in, c->size - (size_t)in);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("sendfile");
    }
    if (n == 0) die("sendfile: unexpected end of file");
  }
}

static void once_splice(struct ctx *c) {
  loff_t in = 0, pos = 0;
  while ((size_t)in < c->size) {
    size_t want = c->size - (size_t)in;
    if (want > c->pipe_cap) want = c->pipe_cap;
    ssize_t n = splice(c->src, &in, c->pipe_w, NULL, want, SPLICE_F_MOVE);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("splice file -> pipe");
    }
    if (n == 0) die("splice: unexpected end of file");
    drain_pipe(c->pipe_r, c->out, (size_t)n, c->file_sink ? &pos : NULL);
  }
}

static void once_vmsplice(struct ctx *c) {
  char *m = mmap(NULL, c->size, PROT_READ, MAP_SHARED, c->src, 0);
  if (m == MAP_FAILED) die("mmap");
  loff_t pos = 0;
  size_t done = 0;
  while (done < c->size) {
    size_t want = c->size - done;
    if (want > c->pipe_cap) want = c->pipe_cap;
    struct iovec iov = {.iov_base = m + done, .iov_len = want};
    ssize_t n = vmsplice(c->pipe_w, &iov, 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("vmsplice");
    }
    drain_pipe(c->pipe_r, c->out, (size_t)n, c->file_sink ? &pos : NULL);
    done += (size_t)n;
  }
  /* The pipe is empty again, so the sink holds its own references (or copies). */
  munmap(m, c->size);
}

static void once_cfr(struct ctx *c) {
  loff_t in = 0, pos = 0;
  while ((size_t)in < c->size) {
    ssize_t n = copy_file_range(c->src, &in, c->out, &pos, c->size - (size_t)in, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("copy_file_range");
    }
    if (n == 0) die("copy_file_range: unexpected end of file");
  }
}

static void once_direct(struct ctx *c) {
  off_t in = 0, pos = 0;
  size_t chunk = c->size < DIRECT_CHUNK ? c->size : DIRECT_CHUNK;
  while ((size_t)in < c->size) {
    ssize_t n = pread(c->dsrc, c->dbuf, chunk, in);
    if (n < 0) die("pread O_DIRECT");
    if (n == 0) break;
    in += n;
    write_all(c->out, c->dbuf, (size_t)n, c->file_sink ? &pos : NULL);
  }
}

static void once_none(struct ctx *c) { (void)c; }

/* ---------------------------------------------------------- cold handshake */

static double cpu_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct cold {
  int req, rep;
  double wall, cpu;      /* spent in the handshake, subtracted */
  uint32_t max_resident, pages;
};

/* Asks the evictor to evict the source; waits for its reply. */
static void cold_evict(struct cold *k) {
  double t0 = now(), c0 = cpu_clock();
  if (write(k->req, "e", 1) != 1) die("write request fifo");
  uint32_t reply[2];
  char *p = (char *)reply;
  size_t got = 0;
  while (got < sizeof(reply)) {
    ssize_t n = read(k->rep, p + got, sizeof(reply) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("read reply fifo");
    got += (size_t)n;
  }
  if (reply[0] > k->max_resident) k->max_resident = reply[0];
  k->pages = reply[1];
  k->cpu += cpu_clock() - c0;
  k->wall += now() - t0;
}

static int sender(int argc, char **argv) {
  if (argc < 7) return 2;
  const char *method = argv[2], *src_path = argv[3], *sink = argv[4], *target = argv[5];
  unsigned long long total = strtoull(argv[6], NULL, 10);
  void (*once)(struct ctx *) = NULL;
  if (!strcmp(method, "rw")) once = once_rw;
  else if (!strcmp(method, "mmap")) once = once_mmap;
  else if (!strcmp(method, "sendfile")) once = once_sendfile;
  else if (!strcmp(method, "splice")) once = once_splice;
  else if (!strcmp(method, "vmsplice")) once = once_vmsplice;
  else if (!strcmp(method, "cfr")) once = once_cfr;
  else if (!strcmp(method, "direct")) once = once_direct;
  else if (!strcmp(method, "none")) once = once_none;
  else {
    fprintf(stderr, "zc-sync: unknown method %s\n", method);
    return 2;
  }

  struct ctx c = {.pipe_r = -1, .pipe_w = -1, .dsrc = -1};
  c.src = open(src_path, O_RDONLY);
  if (c.src < 0) die("open source");
  struct stat st;
  fstat(c.src, &st);
  c.size = (size_t)st.st_size;
  if (c.size == 0) die("empty source");
  c.buf = aligned_alloc(4096, RW_CHUNK);
  if (once == once_direct) {
    c.dsrc = open(src_path, O_RDONLY | O_DIRECT);
    if (c.dsrc < 0) die("open source O_DIRECT");
    c.dbuf = aligned_alloc(4096, DIRECT_CHUNK);
  }

  if (!strcmp(sink, "tcp")) {
    c.out = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(target)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c.out, (struct sockaddr *)&sa, sizeof(sa)) < 0) die("connect");
  } else if (!strcmp(sink, "file")) {
    c.out = open(target, O_WRONLY | O_CREAT, 0644);
    if (c.out < 0) die("open destination");
    c.file_sink = 1;
  } else {
    fprintf(stderr, "zc-sync: sink must be tcp or file\n");
    return 2;
  }
  if (once == once_cfr && !c.file_sink) {
    fprintf(stderr, "zc-sync: copy_file_range needs a file sink\n");
    return 2;
  }
  if (once == once_splice || once == once_vmsplice) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe2");
    c.pipe_r = p[0];
    c.pipe_w = p[1];
    int got = fcntl(c.pipe_w, F_SETPIPE_SZ, PIPE_SIZE);
    c.pipe_cap = got > 0 ? (size_t)got : 65536;
  }

  struct cold k = {.req = -1, .rep = -1};
  int cold = argc >= 9;
  if (cold) {
    /* Same order as the evictor: request FIFO first, then the reply FIFO. */
    k.req = open(argv[7], O_WRONLY | O_CLOEXEC);
    if (k.req < 0) die("open request fifo");
    k.rep = open(argv[8], O_RDONLY | O_CLOEXEC);
    if (k.rep < 0) die("open reply fifo");
  }

  unsigned long long reps = (total + c.size - 1) / c.size;
  if (reps == 0) reps = 1;
  double cpu0 = cpu_seconds(), t0 = now();
  for (unsigned long long i = 0; i < reps; i++) {
    if (cold) cold_evict(&k);
    once(&c);
  }
  unsigned long long moved = reps * (unsigned long long)c.size;
  if (!c.file_sink) {
    shutdown(c.out, SHUT_WR);
    uint64_t got = 0;
    ssize_t n = read(c.out, &got, sizeof(got));
    if (n != (ssize_t)sizeof(got)) die("reader reply");
    if (got != moved) {
      fprintf(stderr, "zc-sync: reader counted %llu bytes, sent %llu\n", (unsigned long long)got, moved);
      return 1;
    }
  }
  double el = now() - t0 - k.wall, cpu = cpu_seconds() - cpu0 - k.cpu;
  printf("{\"method\":\"%s\",\"sink\":\"%s\",\"size\":%zu,\"reps\":%llu,\"bytes\":%llu,\"seconds\":%.6f,"
         "\"cpuSeconds\":%.6f,\"pipeSize\":%zu",
         method, sink, c.size, reps, moved, el, cpu, c.pipe_cap);
  if (cold) printf(",\"residentMax\":%u,\"pages\":%u,\"handshakeSeconds\":%.6f", k.max_resident, k.pages, k.wall);
  printf("}\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "reader")) return reader(argc >= 3 ? argv[2] : NULL);
  if (argc >= 2 && !strcmp(argv[1], "send")) {
    int r = sender(argc, argv);
    if (r != 2) return r;
  }
  fprintf(stderr,
          "usage: %s reader [<progress-file>]\n"
          "       %s send <rw|mmap|sendfile|splice|vmsplice|cfr|direct|none> <src> tcp <port> <total-bytes> "
          "[<request-fifo> <reply-fifo>]\n"
          "       %s send <method> <src> file <dst> <total-bytes> [<request-fifo> <reply-fifo>]\n",
          argv[0], argv[0], argv[0]);
  return 2;
}
