/**
 * The proxy suite (proxy.test.ts) again with the 'copy' pump: the addon's
 * relay in copy mode (recv/send through the ring's relay buffers).
 */
process.env.PROXY_TEST_PUMP = 'copy';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./proxy.test');
