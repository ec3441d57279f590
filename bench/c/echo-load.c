/*
 * echo-load.c - closed-loop TCP load generator for echo servers (bench/echo).
 *
 * Load mode: N connections; each sends one message of S bytes and waits until
 * the whole echo is back before sending the next. One thread, epoll, level
 * triggered, nonblocking sockets. Runs `warmup` seconds untimed, then
 * `seconds` timed, and prints one JSON line:
 *   {"conns":N,"size":S,"messages":M,"seconds":T,"msgsPerSec":R,"bytesPerSec":B}
 * where B counts payload bytes echoed (one direction).
 *
 * Idle mode (--idle): opens N connections, does one 1-byte echo on each so the
 * server has accepted and served it, prints {"ready":R,"asked":N,"stalled":B}
 * and then holds them open until stdin reaches end of file. If no echo arrives
 * for 10 s it stops waiting (stalled: true, R < N) and still holds them.
 *
 * usage: echo-load <host> <port> <conns> <size> <seconds> [warmup=1] [--idle]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  size_t sent;     /* bytes of the current message written */
  size_t received; /* bytes of its echo read back */
  int want_out;    /* EPOLLOUT registered */
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "echo-load: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int epfd;
static size_t msg_size;
static char *out_buf, *in_buf;

static void set_out(struct conn *c, int on) {
  if (c->want_out == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
  c->want_out = on;
}

/* Writes as much of the current message as the socket takes. */
static void pump_out(struct conn *c) {
  while (c->sent < msg_size) {
    ssize_t n = send(c->fd, out_buf + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      die("send");
    }
    c->sent += (size_t)n;
  }
  set_out(c, c->sent < msg_size);
}

/* Reads what is there; returns 1 when the whole echo of the message is back. */
static int pump_in(struct conn *c) {
  for (;;) {
    size_t want = msg_size - c->received;
    if (want == 0) return 1;
    ssize_t n = recv(c->fd, in_buf, want, 0);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      die("recv");
    }
    if (n == 0) {
      fprintf(stderr, "echo-load: server closed a connection\n");
      exit(1);
    }
    c->received += (size_t)n;
  }
}

static int connect_one(const struct sockaddr_in *sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS) die("connect");
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s <host> <port> <conns> <size> <seconds> [warmup] [--idle]\n", argv[0]);
    return 2;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
    fprintf(stderr, "echo-load: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  int nconns = atoi(argv[3]);
  msg_size = (size_t)atol(argv[4]);
  double seconds = atof(argv[5]);
  double warmup = argc > 6 && argv[6][0] != '-' ? atof(argv[6]) : 1;
  int idle = strcmp(argv[argc - 1], "--idle") == 0;
  if (idle) msg_size = 1;

  out_buf = malloc(msg_size);
  in_buf = malloc(msg_size);
  struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
  if (!out_buf || !in_buf || !conns) die("malloc");
  for (size_t i = 0; i < msg_size; i++) out_buf[i] = (char)('a' + i % 26);

  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  /* Connect in slices so the server's listen backlog never overflows. */
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = connect_one(&sa);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &conns[i]};
    conns[i].want_out = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0) die("epoll_ctl");
    if (i % 256 == 255) usleep(2000);
  }

  struct epoll_event events[256];
  unsigned long long messages = 0;
  int done_idle = 0, stalled = 0;
  double last_progress = now();
  double start = now(), t0 = 0, stop_at = 0;
  int measuring = 0;
  for (;;) {
    int n = epoll_wait(epfd, events, 256, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err ? err : ECONNRESET;
        die("connection");
      }
      if (events[i].events & EPOLLOUT) pump_out(c);
      if ((events[i].events & EPOLLIN) && pump_in(c)) {
        if (idle) {
          done_idle++;
          last_progress = now();
          c->received = 0;
          struct epoll_event ev = {.events = 0, .data.ptr = c};
          epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev); /* park it */
          continue;
        }
        messages++;
        c->sent = c->received = 0;
        pump_out(c);
      }
    }
    if (idle) {
      if (done_idle == nconns) break;
      if (now() - last_progress > 10) { /* the server stopped answering: report what we have */
        stalled = 1;
        break;
      }
      continue;
    }
    double t = now();
    if (!measuring && t - start >= warmup) {
      measuring = 1;
      messages = 0;
      t0 = t;
      stop_at = t + seconds;
    } else if (measuring && t >= stop_at) {
      double el = t - t0;
      printf("{\"conns\":%d,\"size\":%zu,\"messages\":%llu,\"seconds\":%.6f,\"msgsPerSec\":%.1f,\"bytesPerSec\":%.1f}\n",
             nconns, msg_size, messages, el, (double)messages / el, (double)messages * (double)msg_size / el);
      return 0;
    }
  }
  /* Idle mode: report and hold the connections until stdin closes. */
  printf("{\"ready\":%d,\"asked\":%d,\"stalled\":%s}\n", done_idle, nconns, stalled ? "true" : "false");
  fflush(stdout);
  char b[64];
  while (read(0, b, sizeof(b)) > 0) {
  }
  return 0;
}
