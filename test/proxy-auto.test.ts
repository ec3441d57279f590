/**
 * The proxy suite (proxy.test.ts) again with the 'auto' pump: the addon's
 * relay in auto mode (reads under 16 KiB copied, bulk spliced).
 */
process.env.PROXY_TEST_PUMP = 'auto';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./proxy.test');
