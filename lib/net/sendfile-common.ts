/**
 * Pieces shared by sendFile's two transfer modes (sendfile-linked.ts,
 * sendfile-ready.ts): the truncation error.
 * @internal
 */
/** The error for a file that ended before the requested range did. */
export interface FileTruncatedError extends Error {
  code: 'ERR_FILE_TRUNCATED';
  /** Body bytes that reached the socket. */
  bytesSent: number;
}

/** @internal */
export function truncatedError(at: number, end: number, sent: number): FileTruncatedError {
  const err = new Error(`sendFile: the file ended at byte ${at} before the requested end (byte ${end - 1}); ` +
    `it was probably truncated during the transfer. ${sent} bytes of the body were sent.`) as FileTruncatedError;
  err.code = 'ERR_FILE_TRUNCATED';
  err.bytesSent = sent;
  return err;
}
