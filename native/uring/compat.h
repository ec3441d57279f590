/*
 * compat.h - constants newer than the distribution's <linux/io_uring.h>.
 *
 * Debian 12 ships the 6.1 UAPI header; the kernels we run on are newer.
 * Every value here is the kernel's own, defined only when the header lacks it,
 * so a newer header always wins.
 */
#ifndef URING_COMPAT_H
#define URING_COMPAT_H

#include <linux/io_uring.h>

#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16) /* 6.6 */
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4) /* 6.12: incremental buffer not fully used */
#endif
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2 /* 6.12: incrementally consumed provided buffers */
#endif
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4) /* 6.10 */
#endif
#ifndef IORING_REGISTER_PBUF_STATUS
#define IORING_REGISTER_PBUF_STATUS 26
#endif
#ifndef IO_URING_OP_SUPPORTED
#define IO_URING_OP_SUPPORTED (1U << 0)
#endif

/* statx(2) DIO alignment (6.1); glibc's <sys/stat.h> may not have it. */
#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

#endif
