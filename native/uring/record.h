/*
 * record.h - layout of the operation record shared with JavaScript.
 *
 * lib/record.ts writes one operation into a Float64Array that this addon
 * reads in place (no argument conversion per field); the same indices are
 * defined there. Doubles carry every SQE field exactly: integers up to 2^53,
 * and -1 for "no offset" becomes (uint64_t)-1.
 */
#ifndef URING_RECORD_H
#define URING_RECORD_H

enum RecordField {
  REC_OPCODE = 0,    /* IORING_OP_* */
  REC_FLAGS = 1,     /* IOSQE_* */
  REC_IOPRIO = 2,    /* ioprio (also multishot/zc flags for net ops) */
  REC_FD = 3,        /* fd (or dirfd) */
  REC_OFF = 4,       /* off, or byte offset into the second buffer (addr2) */
  REC_ADDR = 5,      /* addr, or byte offset into the first buffer */
  REC_LEN = 6,       /* len */
  REC_OP_FLAGS = 7,  /* rw_flags / open_flags / msg_flags / ... */
  REC_SLOT = 8,      /* low half of user_data */
  REC_GEN = 9,       /* high half of user_data */
  REC_BUF_INDEX = 10,/* buf_index / buf_group */
  REC_FD_IN = 11,    /* splice_fd_in / file_index */
  REC_ADDR3 = 12,    /* addr3, or byte offset into the third buffer */
  REC_FD_RESULT = 13,/* 1: the result is a new fd that JavaScript will adopt (fd_results.h) */
  REC_FIELDS = 16
};

/* Completion records: four int32 per CQE. */
enum CompletionField { CQE_SLOT = 0, CQE_GEN = 1, CQE_RES = 2, CQE_FLAGS = 3, CQE_FIELDS = 4 };

/* CQE_SLOT of a record JavaScript has taken (it writes this before acting
 * on the record): the addon then never closes the fd the record carries. */
#define CQE_TAKEN (-2)

/* user_data slot reserved for internal requests (cancels): never reported. */
#define URING_INTERNAL_SLOT 0xffffffffu

/* CQE_GEN of the end record of an addon-driven operation (a relay): CQE_SLOT
 * is then its id (lib/record.ts NATIVE_GEN). */
#define URING_NATIVE_GEN 0xfffffffeu

#endif
