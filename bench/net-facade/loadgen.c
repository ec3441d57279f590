/*
 * loadgen.c - ad-hoc echo load generator for the net facade measurements.
 * N connections, each sends SIZE bytes, waits for SIZE bytes back (ping-pong),
 * for SECS seconds after a 1 s warm-up. Prints messages/s and MB/s.
 *   cc -O2 -o loadgen loadgen.c && ./loadgen PORT CONNS SIZE SECS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn { int fd; size_t sent, got; };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: loadgen PORT CONNS SIZE SECS\n"); return 2; }
  int port = atoi(argv[1]), n = atoi(argv[2]); size_t size = (size_t)atol(argv[3]); double secs = atof(argv[4]);
  char *out = malloc(size), *in = malloc(size > 65536 ? size : 65536);
  memset(out, 'x', size);
  int ep = epoll_create1(0);
  struct conn *c = calloc(n, sizeof *c);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  for (int i = 0; i < n; i++) {
    c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1; setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c[i].fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    ssize_t w = send(c[i].fd, out, size, MSG_DONTWAIT); if (w > 0) c[i].sent = w;
  }
  double t0 = now(), start = t0 + 1, end = start + secs; long msgs = 0; int counting = 0;
  struct epoll_event evs[256];
  for (;;) {
    double t = now();
    if (!counting && t >= start) { counting = 1; msgs = 0; start = t; }
    if (t >= end) break;
    int k = epoll_wait(ep, evs, 256, 100);
    for (int j = 0; j < k; j++) {
      struct conn *x = &c[evs[j].data.u32];
      for (;;) {
        ssize_t r = recv(x->fd, in, size > 65536 ? 65536 : size, MSG_DONTWAIT);
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) { fprintf(stderr, "conn closed (%zd)\n", r); return 1; }
        x->got += r;
        if (x->got >= size) { msgs++; x->got -= size; x->sent = 0; }
        if (x->got == 0 && x->sent < size) {
          while (x->sent < size) {
            ssize_t w = send(x->fd, out + x->sent, size - x->sent, MSG_DONTWAIT);
            if (w <= 0) break;
            x->sent += w;
          }
        }
      }
      /* finish a partially sent message */
      while (x->sent < size) { ssize_t w = send(x->fd, out + x->sent, size - x->sent, 0); if (w <= 0) break; x->sent += w; }
    }
  }
  double el = now() - start;
  printf("conns=%d size=%zu msgs/s=%.0f MB/s=%.1f\n", n, size, msgs / el, msgs * (double)size * 2 / el / 1e6);
  return 0;
}
