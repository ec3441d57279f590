/**
 * The file server seen by curl: ranges, conditionals, HEAD, keep-alive.
 * curl is installed with apt-get when missing; if that fails the tests are
 * skipped with a loud message.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeFixture, patternBytes, start, type Fixture, type Running } from './http-helpers';

function haveCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    try {
      execFileSync('apt-get', ['install', '-y', 'curl'], { stdio: 'ignore', timeout: 240_000 });
      execFileSync('curl', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }
}

interface CurlResult {
  stdout: Buffer;
  stderr: string;
}

function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], { encoding: 'buffer', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`curl ${args.join(' ')}: ${err.message}\n${stderr.toString()}`));
      else resolve({ stdout, stderr: stderr.toString() });
    });
  });
}

/** Status and headers from `curl -D -` output (the last response in it). */
function headOf(out: string): { status: number; headers: Record<string, string> } {
  const blocks = out.split('\r\n\r\n').filter((b) => b.startsWith('HTTP/'));
  const lines = blocks[blocks.length - 1].split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  return { status: Number(lines[0].split(' ')[1]), headers };
}

const available = haveCurl();
if (!available) {
  process.stderr.write('\n!!!!! http-curl: curl is missing and could not be installed: CURL TESTS SKIPPED !!!!!\n\n');
}
const maybe = available ? test : test.skip;

let fx: Fixture;
let srv: Running;
let tmp: string;

test.before(async () => {
  fx = makeFixture();
  tmp = path.join(fx.base, 'out');
  fs.mkdirSync(tmp);
  srv = await start(fx.root);
});
test.after(async () => {
  await srv.server.close();
  fx.cleanup();
});

maybe('curl: byte ranges (explicit, suffix, open-ended) and 416', async () => {
  const data = patternBytes(300_000);
  const cases: Array<[string, number, number]> = [
    ['0-99', 0, 99],
    ['-100', 299_900, 299_999],
    ['299000-', 299_000, 299_999],
    ['12345-200000', 12_345, 200_000],
  ];
  for (const [r, s, e] of cases) {
    const out = path.join(tmp, 'range');
    const { stdout } = await curl(['-D', '-', '-o', out, '-r', r, srv.url('/big.bin')]);
    const h = headOf(stdout.toString('latin1'));
    assert.is(h.status, 206, r);
    assert.is(h.headers['content-range'], `bytes ${s}-${e}/300000`);
    assert.ok(fs.readFileSync(out).equals(data.subarray(s, e + 1)), `body of ${r}`);
  }
  const { stdout } = await curl(['-D', '-', '-o', '/dev/null', '-r', '400000-', srv.url('/big.bin')]);
  const h = headOf(stdout.toString('latin1'));
  assert.is(h.status, 416);
  assert.is(h.headers['content-range'], 'bytes */300000');
});

maybe('curl: If-None-Match and If-Modified-Since give 304', async () => {
  const first = headOf((await curl(['-D', '-', '-o', '/dev/null', srv.url('/style.css')])).stdout.toString('latin1'));
  const etag = first.headers['etag'];
  const inm = await curl(['-D', '-', '-H', `If-None-Match: ${etag}`, srv.url('/style.css')]);
  assert.is(headOf(inm.stdout.toString('latin1')).status, 304);
  assert.ok(inm.stdout.toString().endsWith('\r\n\r\n'), 'no body after a 304');
  // curl -z sends If-Modified-Since with the given date.
  const ims = await curl(['-D', '-', '-o', '/dev/null', '-z', first.headers['last-modified'], srv.url('/style.css')]);
  assert.is(headOf(ims.stdout.toString('latin1')).status, 304);
  const older = await curl(['-D', '-', '-z', 'Thu, 01 Jan 2004 00:00:00 GMT', srv.url('/style.css')]);
  assert.is(headOf(older.stdout.toString('latin1')).status, 200);
  assert.ok(older.stdout.toString().endsWith('body { color: red }\n'));
});

maybe('curl: HEAD (-I) reports the length without a body', async () => {
  const { stdout } = await curl(['-I', srv.url('/big.bin')]);
  const text = stdout.toString('latin1');
  const h = headOf(text);
  assert.is(h.status, 200);
  assert.is(h.headers['content-length'], '300000');
  assert.is(h.headers['content-type'], 'application/octet-stream');
  assert.ok(text.endsWith('\r\n\r\n'));
});

maybe('curl: keep-alive reuses one connection for several transfers', async () => {
  const { stdout, stderr } = await curl(['-v', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{num_connects}\\n',
    srv.url('/hello.txt'), srv.url('/style.css'), srv.url('/big.bin')]);
  assert.equal(stdout.toString().trim().split('\n'), ['1', '0', '0'], 'only the first transfer connects');
  assert.match(stderr, /Re-using existing connection/);
});

test.run();
