// node:net echo server (the alternative a user would pick).
const net = require('node:net');
const port = Number(process.argv[2] || 7002);
net.createServer((s) => { s.setNoDelay(true); s.on('error', () => {}); s.pipe(s); }).listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
