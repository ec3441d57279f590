import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluateRange } from '../examples/file-server/ranges';
import { etagOf, evaluateConditionals, httpDate, rangeStillValid } from '../examples/file-server/conditional';
import { mapTarget } from '../examples/file-server/paths';
import { escapeHtml, renderListing } from '../examples/file-server/listing';
import { contentTypeFor } from '../examples/file-server/mime';
import { parseArgs } from '../examples/file-server/cli';
import { sendBody } from '../examples/file-server/send-body';
import type { FileLike } from '../examples/file-server/file-io';
import type { SocketLike } from '../examples/file-server/transport';

const hdr = (o: Record<string, string>) => ({ get: (n: string) => o[n] });

test('ranges: single, suffix, open-ended, clamped, unsatisfiable, multiple, ignored', () => {
  assert.equal(evaluateRange(undefined, 100), { kind: 'full' });
  assert.equal(evaluateRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 });
  assert.equal(evaluateRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 });
  assert.equal(evaluateRange('bytes=-1000', 100), { kind: 'partial', start: 0, end: 99 });
  assert.equal(evaluateRange('bytes=95-', 100), { kind: 'partial', start: 95, end: 99 });
  assert.equal(evaluateRange('bytes=50-1000', 100), { kind: 'partial', start: 50, end: 99 });
  assert.equal(evaluateRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.equal(evaluateRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.equal(evaluateRange('bytes=0-0', 0), { kind: 'unsatisfiable' });
  // RFC 9110 14.1.1: a non-zero suffix is satisfiable on an empty body; only the whole (empty) body can answer it.
  assert.equal(evaluateRange('bytes=-5', 0), { kind: 'full' });
  assert.equal(evaluateRange('bytes=-0', 0), { kind: 'unsatisfiable' });
  assert.equal(evaluateRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  assert.equal(evaluateRange('bytes=0-1,5-6', 100), { kind: 'full' });
  assert.equal(evaluateRange('bytes=200-300,400-', 100), { kind: 'unsatisfiable' });
  assert.equal(evaluateRange('bytes=9-1', 100), { kind: 'full' });
  assert.equal(evaluateRange('items=0-1', 100), { kind: 'full' });
  assert.equal(evaluateRange('bytes=abc', 100), { kind: 'full' });
  assert.equal(evaluateRange('bytes=-', 100), { kind: 'full' });
});

test('conditionals: ETag and date comparisons, precedence, If-Range', () => {
  const st = { ino: 42, size: 10, mtimeMs: 1_700_000_000_123.456 };
  const etag = etagOf(st);
  assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
  assert.is.not(etagOf({ ...st, mtimeMs: st.mtimeMs + 1 }), etag);
  const lm = httpDate(st.mtimeMs);
  assert.is(evaluateConditionals(hdr({ 'if-none-match': etag }), etag, st.mtimeMs), 'not-modified');
  assert.is(evaluateConditionals(hdr({ 'if-none-match': `"x", W/${etag}` }), etag, st.mtimeMs), 'not-modified');
  assert.is(evaluateConditionals(hdr({ 'if-none-match': '*' }), etag, st.mtimeMs), 'not-modified');
  assert.is(evaluateConditionals(hdr({ 'if-none-match': '"other"', 'if-modified-since': lm }), etag, st.mtimeMs), 'proceed');
  assert.is(evaluateConditionals(hdr({ 'if-modified-since': lm }), etag, st.mtimeMs), 'not-modified');
  assert.is(evaluateConditionals(hdr({ 'if-modified-since': httpDate(st.mtimeMs - 5000) }), etag, st.mtimeMs), 'proceed');
  assert.is(evaluateConditionals(hdr({ 'if-modified-since': 'garbage' }), etag, st.mtimeMs), 'proceed');
  assert.is(evaluateConditionals(hdr({ 'if-match': '"other"' }), etag, st.mtimeMs), 'precondition-failed');
  assert.is(evaluateConditionals(hdr({ 'if-match': `W/${etag}` }), etag, st.mtimeMs), 'precondition-failed');
  assert.is(evaluateConditionals(hdr({ 'if-match': etag }), etag, st.mtimeMs), 'proceed');
  assert.is(evaluateConditionals(hdr({ 'if-unmodified-since': httpDate(st.mtimeMs - 5000) }), etag, st.mtimeMs), 'precondition-failed');
  assert.ok(rangeStillValid(hdr({}), etag, st.mtimeMs));
  assert.ok(rangeStillValid(hdr({ 'if-range': etag }), etag, st.mtimeMs));
  assert.not.ok(rangeStillValid(hdr({ 'if-range': '"old"' }), etag, st.mtimeMs));
  assert.ok(rangeStillValid(hdr({ 'if-range': lm }), etag, st.mtimeMs));
  assert.not.ok(rangeStillValid(hdr({ 'if-range': httpDate(0) }), etag, st.mtimeMs));
});

test('paths: confinement of hostile targets without touching the file system', () => {
  const root = '/srv/root';
  const refused: Array<[string, number]> = [
    ['/../etc/passwd', 403],
    ['/a/../../etc/passwd', 403],
    ['/%2e%2e/etc/passwd', 403],
    ['/%2E%2e/%2e%2E/etc/passwd', 403],
    ['/.%2e/x', 403],
    ['/./x', 403],
    ['/..%2fetc%2fpasswd', 400],
    ['/%2fetc/passwd', 400],
    ['/a%5c..%5cb', 400],
    ['/..\\..\\etc\\passwd', 400],
    ['/a%00.txt', 400],
    ['/a%0d%0aSet-Cookie:x', 400],
    ['/%zz', 400],
    ['/%c0%ae%c0%ae/etc', 400], // overlong UTF-8 dots
    ['http://localhost/etc/passwd', 400],
    ['//etc/passwd#x', 400],
    ['*', 400],
    ['/.git/config', 404],
  ];
  for (const [t, s] of refused) {
    const r = mapTarget(t, root);
    assert.ok(!r.ok && r.status === s, `${t} -> ${JSON.stringify(r)}`);
  }
  const ok = mapTarget('/a%20b/c.txt?x=../..', root);
  assert.ok(ok.ok);
  if (ok.ok) assert.equal(ok.path, { urlPath: '/a b/c.txt', fsPath: '/srv/root/a b/c.txt', trailingSlash: false });
  const slashes = mapTarget('//etc//passwd', root);
  assert.ok(slashes.ok && slashes.path.fsPath === '/srv/root/etc/passwd');
  const dir = mapTarget('/sub/', root);
  assert.ok(dir.ok && dir.path.trailingSlash && dir.path.urlPath === '/sub/');
  assert.ok(mapTarget('/.well-known/x', root, { dotfiles: true }).ok);
});

test('listing escapes names in text and links', () => {
  const e = (name: string, dir = false) => ({ name, isDirectory: () => dir });
  const html = renderListing('/x/<y>/', [e('<script>alert(1)</script>.txt'), e('a"b\'c&d'), e('q?#%', true)]);
  assert.not.ok(html.includes('<script>'));
  assert.ok(html.includes('&#60;script&#62;alert(1)&#60;/script&#62;.txt'));
  assert.ok(html.includes('href="q%3F%23%25/"'));
  assert.ok(html.includes('a&#34;b&#39;c&#38;d'));
  assert.ok(html.includes('Index of /x/&#60;y&#62;/'));
  assert.ok(html.indexOf('q?#%') < html.indexOf('a&#34;'), 'directories first');
  assert.is(escapeHtml(`<>&"'`), '&#60;&#62;&#38;&#34;&#39;');
});

test('mime types by extension', () => {
  assert.is(contentTypeFor('a/b/INDEX.HTML'), 'text/html; charset=utf-8');
  assert.is(contentTypeFor('x.png'), 'image/png');
  assert.is(contentTypeFor('x.webm'), 'video/webm');
  assert.is(contentTypeFor('noext'), 'application/octet-stream');
});

test('CLI arguments: defaults, values, errors naming the option', () => {
  const d = parseArgs([], '/repo');
  if (d === 'help') throw new Error('unexpected help');
  assert.is(d.port, 8080);
  assert.is(d.host, '127.0.0.1');
  assert.is(d.root, '/repo');
  assert.ok(d.workers >= 1);
  const o = parseArgs(['--port', '0', '--host=::1', '--workers', '3', '--root', '/tmp'], '/repo');
  if (o === 'help') throw new Error('unexpected help');
  assert.equal([o.port, o.host, o.workers, o.root], [0, '::1', 3, '/tmp']);
  assert.is(parseArgs(['--help'], '/r'), 'help');
  assert.throws(() => parseArgs(['--port', '70000'], '/r'), /--port must be an integer/);
  assert.throws(() => parseArgs(['--workers', 'x'], '/r'), /--workers/);
  assert.throws(() => parseArgs(['--bogus'], '/r'), /unknown option "--bogus"/);
});

test('sendBody hands the inclusive range, the head and the stall timeout to a zero-copy sendFile', async () => {
  const calls: unknown[] = [];
  const socket = {} as SocketLike;
  const file = { fd: 99 } as FileLike;
  const head = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
  await sendBody(socket, file, 10, 19, {
    head,
    stallTimeoutMs: 250,
    sendFile: async (s, f, o) => {
      calls.push([s, f, o]);
    },
  });
  assert.equal(calls, [[socket, file, { start: 10, end: 19, headers: head, stallTimeout: 250 }]]);
});

test.run();
