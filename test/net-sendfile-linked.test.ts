/**
 * The sendFile suite (net-sendfile.test.ts) again in 'linked' mode: every
 * splice submitted as a linked IORING_OP_SPLICE pair (io-wq).
 */
process.env.SENDFILE_TEST_MODE = 'linked';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./net-sendfile.test');
