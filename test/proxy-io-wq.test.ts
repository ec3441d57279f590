/**
 * The proxy suite (proxy.test.ts) again with the io-wq pump: every splice
 * submitted as IORING_OP_SPLICE instead of readiness + non-blocking splice.
 */
process.env.PROXY_TEST_PUMP = 'io-wq';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./proxy.test');
