'use strict';
/**
 * The TCP proxy a Node user would write with node:net: client.pipe(upstream).pipe(client).
 * Baseline of bench/proxy.ts.
 *
 * Usage: node bench/node-pipe-proxy.js LISTEN_PORT UPSTREAM_PORT [UPSTREAM_HOST]
 */
const net = require('node:net');

const [listenPort, upstreamPort, upstreamHost = '127.0.0.1'] = process.argv.slice(2);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(upstreamPort), upstreamHost);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end);
  upstream.on('error', end);
  client.pipe(upstream).pipe(client);
});
server.listen(Number(listenPort), '127.0.0.1', () => {
  process.stdout.write(`node pipe proxy on 127.0.0.1:${listenPort} -> ${upstreamHost}:${upstreamPort}\n`);
});
process.once('SIGTERM', () => process.exit(0));
