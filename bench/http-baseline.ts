/**
 * The alternative a user would pick for static files: node:http with
 * fs.stat + fs.createReadStream (what serve-static does at its core), no
 * caching. Used by bench/file-server.ts as the baseline.
 *
 * Usage: node dist/bench/http-baseline.js ROOT PORT
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

const [root, portArg] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const file = path.join(root, path.normalize(decodeURIComponent((req.url ?? '/').split('?')[0])));
  if (!file.startsWith(root + path.sep)) {
    res.writeHead(403).end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Length': st.size, 'Content-Type': 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(portArg), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`serving on http://127.0.0.1:${typeof a === 'object' && a ? a.port : portArg}/ (node:http + createReadStream)\n`);
});
process.once('SIGTERM', () => server.close());
