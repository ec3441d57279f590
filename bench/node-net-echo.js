'use strict';
/**
 * node:net echo server for bench/echo: what a Node user writes today.
 * usage: node bench/node-net-echo.js [--port 7000] [--host 127.0.0.1]
 */
const net = require('node:net');

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(arg('port', '7000'));
const host = arg('host', '127.0.0.1');

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.listen({ port, host, backlog: 4096 }, () => {
  console.log(`listening on ${host}:${port}`);
});
process.on('SIGTERM', () => process.exit(0));
