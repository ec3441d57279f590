/**
 * The proxy suite (proxy.test.ts) again with the 'ready' pump: readiness on
 * the ring and non-blocking splice(2) driven from JavaScript instead of the
 * addon's relay.
 */
process.env.PROXY_TEST_PUMP = 'ready';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./proxy.test');
