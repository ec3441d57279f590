/*
 * echo-epoll.c - a plain C echo server for bench/echo: one thread, epoll,
 * level triggered, nonblocking sockets.
 *
 * Reads into one shared 64 KiB buffer and writes straight back. Only when the
 * socket does not take everything is the remainder copied into a buffer of
 * that connection's own, and the connection stops reading until it is out
 * (EPOLLOUT). So an idle connection costs one small struct.
 *
 * usage: echo-epoll <port> [host=127.0.0.1]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct conn {
  int fd;
  char *pend; /* bytes read but not yet written back */
  size_t pend_len, pend_off;
};

static int epfd;
static char shared_buf[BUF_SIZE];

static void die(const char *what) {
  fprintf(stderr, "echo-epoll: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void close_conn(struct conn *c) {
  close(c->fd); /* also removes it from the epoll set */
  free(c->pend);
  free(c);
}

static void watch(struct conn *c, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
}

/* Writes pending bytes; returns 0 when all are out, 1 when some remain, -1 on error. */
static int flush_pending(struct conn *c) {
  while (c->pend_off < c->pend_len) {
    ssize_t n = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 1 : -1;
    c->pend_off += (size_t)n;
  }
  free(c->pend);
  c->pend = NULL;
  c->pend_len = c->pend_off = 0;
  return 0;
}

static void on_readable(struct conn *c) {
  for (;;) {
    ssize_t n = recv(c->fd, shared_buf, BUF_SIZE, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      close_conn(c);
      return;
    }
    if (n < 0) return;
    size_t off = 0;
    while (off < (size_t)n) {
      ssize_t w = send(c->fd, shared_buf + off, (size_t)n - off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno != EAGAIN) {
          close_conn(c);
          return;
        }
        /* Keep the rest and wait until the socket drains. */
        c->pend_len = (size_t)n - off;
        c->pend = malloc(c->pend_len);
        if (!c->pend) die("malloc");
        memcpy(c->pend, shared_buf + off, c->pend_len);
        c->pend_off = 0;
        watch(c, EPOLLOUT);
        return;
      }
      off += (size_t)w;
    }
    if ((size_t)n < BUF_SIZE) return; /* drained for now */
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <port> [host]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1", &sa.sin_addr) != 1) {
    fprintf(stderr, "echo-epoll: bad IPv4 address\n");
    return 2;
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) die("epoll_ctl");

  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          struct conn *nc = calloc(1, sizeof(*nc));
          if (!nc) die("calloc");
          nc->fd = fd;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
          if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
        }
        continue;
      }
      if (c->pend) {
        int r = flush_pending(c);
        if (r < 0) close_conn(c);
        else if (r == 0) watch(c, EPOLLIN);
        continue;
      }
      on_readable(c);
    }
  }
}
