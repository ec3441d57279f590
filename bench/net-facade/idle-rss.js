// RSS of an echo server holding N idle connections: uring facade vs node:net.
//   node bench/net-facade/idle-rss.js [N=10000]
// The server runs in a child process; this process opens N connections, sends
// one 64-byte message on each and waits for its echo, then reads the child's
// VmRSS from /proc. Needs ulimit -n > N + 100 in both processes.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const N = Number(process.argv[2] || 10000);

const serverSrc = (mod) => `
const net = require(${JSON.stringify(mod)});
net.createServer((s) => { s.on('error', () => {}); s.pipe(s); })
  .listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, function () { console.log(this.address().port); });
`;

function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) / 1024;
}

async function run(name, mod, args) {
  const child = spawn(process.execPath, args || ['-e', serverSrc(mod)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((r) => child.stdout.once('data', (d) => r(Number(/(\d+)\s*$/.exec(d.toString())[1]))));
  await new Promise((r) => setTimeout(r, 200));
  const base = rss(child.pid);
  const socks = [];
  for (let i = 0; i < N; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, N - i) }, () => new Promise((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => c.write(Buffer.alloc(64, 1)));
      c.once('data', () => resolve());
      c.on('error', reject);
      socks.push(c);
    })));
  }
  await new Promise((r) => setTimeout(r, 500));
  const loaded = rss(child.pid);
  console.log(`${name.padEnd(14)} idle server RSS ${base.toFixed(1)} MiB -> with ${N} connections ${loaded.toFixed(1)} MiB ` +
    `(+${(loaded - base).toFixed(1)} MiB, ${((loaded - base) * 1024 / N).toFixed(2)} KiB/conn)`);
  for (const s of socks) s.destroy();
  child.kill();
  return loaded;
}

(async () => {
  const u = await run('uring facade', path.join(__dirname, '..', '..', 'dist', 'lib', 'net.js'));
  const e = await run('uring example', null,
    [path.join(__dirname, '..', '..', 'dist', 'examples', 'echo-server.js'), '--port', '7199']);
  const n = await run('node:net', 'node:net');
  console.log(`RSS ratio vs node:net: facade ${(u / n).toFixed(2)}, example ${(e / n).toFixed(2)}`);
})();
