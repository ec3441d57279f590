/**
 * Layout of the operation record shared with the addon; mirrors
 * native/uring/record.h. One Float64Array is written per operation and read
 * in place by the addon's `prep`, so no argument is converted per field.
 * @internal
 */
export const R = {
  OPCODE: 0,
  FLAGS: 1,
  IOPRIO: 2,
  FD: 3,
  OFF: 4,
  ADDR: 5,
  LEN: 6,
  OP_FLAGS: 7,
  SLOT: 8,
  GEN: 9,
  BUF_INDEX: 10,
  FD_IN: 11,
  ADDR3: 12,
  /** 1 when the operation completes with a new fd (the slot's fdResult): see native/uring/fd_results.h. */
  FD_RESULT: 13,
  FIELDS: 16,
} as const;

/** Completion record layout: four int32 per CQE. @internal */
export const C = { SLOT: 0, GEN: 1, RES: 2, FLAGS: 3, FIELDS: 4 } as const;

/** Slot number of the addon's internal requests (cancels); never reported. @internal */
export const INTERNAL_SLOT = -1; // 0xffffffff read as int32

/**
 * What JavaScript writes over a record's SLOT once it has taken the record,
 * before acting on it: if the thread ends in the middle of a batch, the
 * addon closes the fds only of the records not taken (native CQE_TAKEN). @internal
 */
export const CQE_TAKEN = -2;

/**
 * Generation that marks the end record of an operation the addon drives by
 * itself (a relay): SLOT is then the addon's id for it, not a ring slot.
 * Ring slot generations stay below 2^20. @internal
 */
export const NATIVE_GEN = -2; // 0xfffffffe read as int32
