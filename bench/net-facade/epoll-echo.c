/* epoll-echo.c - plain C epoll echo server (reference for the net facade figures).
 *   cc -O2 -o epoll-echo epoll-echo.c && ./epoll-echo PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 7001;
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4096) < 0) { perror("listen"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = l };
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  printf("listening on 127.0.0.1:%d\n", port); fflush(stdout);
  static char buf[65536]; struct epoll_event evs[256];
  for (;;) {
    int k = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < k; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int c;
        while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) { close(fd); break; }
        ssize_t off = 0;
        while (off < r) {  /* blocking-ish retry: fine for an echo reference */
          ssize_t w = write(fd, buf + off, r - off);
          if (w < 0 && errno == EAGAIN) continue;
          if (w <= 0) break;
          off += w;
        }
      }
    }
  }
}
