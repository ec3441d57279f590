// Echo server on the uring-node net facade (Socket = Duplex), for comparison with the raw example.
const net = require('../../dist/lib/net.js');
const port = Number(process.argv[2] || 7003);
net.createServer((s) => { s.setNoDelay(true); s.on('error', () => {}); s.pipe(s); }).listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port} (${net.backend})`));
