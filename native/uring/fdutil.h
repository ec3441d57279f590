/*
 * fdutil.h - small fd helpers shared by the addon's files.
 */
#ifndef URING_FDUTIL_H
#define URING_FDUTIL_H

#include <errno.h>
#include <fcntl.h>

/* Sets or clears O_NONBLOCK; returns whether it was set before (1/0) or -errno. */
static inline int SetFdNonBlocking(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (want != fl && fcntl(fd, F_SETFL, want) < 0) return -errno;
  return (fl & O_NONBLOCK) ? 1 : 0;
}

#endif
