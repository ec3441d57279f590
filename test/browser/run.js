#!/usr/bin/env node
/*
 * Browser test of the file server (npm run test:browser; not part of npm test).
 *
 * Serves a temp root holding index.html + a stylesheet + a PNG (written by
 * hand below) + a WebM video (made with ffmpeg), loads it in headless
 * Chromium with --dump-dom, and checks from the dumped DOM that the
 * stylesheet applied, the image decoded (naturalWidth > 0) and the video
 * could seek; and from the server's log that the video was fetched with range
 * requests (206 responses). Installs Debian's chromium / ffmpeg when missing.
 */
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const dist = path.join(__dirname, '..', '..', 'dist', 'examples', 'file-server', 'server.js');

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensure(cmd, pkg) {
  if (have(cmd)) return;
  console.log(`${cmd} missing: apt-get install -y ${pkg}`);
  execFileSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit' });
  if (!have(cmd)) throw new Error(`${cmd} still missing after installing ${pkg}`);
}

/* ---- a PNG by hand: signature, IHDR, IDAT (zlib), IEND; CRC-32 per chunk ---- */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A w x h RGB PNG with a gradient. */
function makePng(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  const raw = Buffer.alloc(h * (1 + w * 3));
  for (let y = 0; y < h; y++) {
    const row = y * (1 + w * 3);
    raw[row] = 0; // filter: none
    for (let x = 0; x < w; x++) {
      raw[row + 1 + x * 3] = (x * 255) / w;
      raw[row + 2 + x * 3] = (y * 255) / h;
      raw[row + 3 + x * 3] = 128;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>file-server browser test</title>
<link rel="stylesheet" href="style.css"></head>
<body>
<div id="probe">probe</div>
<img id="img" src="image.png" alt="">
<video id="video" src="video.webm" preload="metadata" muted></video>
<pre id="result">pending</pre>
<script>
  const out = {};
  let finished = false;
  const done = () => {
    finished = true;
    out.cssWidth = getComputedStyle(document.getElementById('probe')).width;
    out.imgWidth = document.getElementById('img').naturalWidth;
    document.getElementById('result').textContent = 'RESULT ' + JSON.stringify(out);
    // Also tell the server (shows up in its log as a request for /report?...).
    fetch('/report?' + encodeURIComponent(JSON.stringify(out))).catch(() => {});
  };
  const v = document.getElementById('video');
    const fail = (why) => { if (!finished) { out.videoError = why; done(); } };
  v.addEventListener('error', () => fail('error ' + (v.error && v.error.code)));
  v.addEventListener('loadedmetadata', () => {
    out.duration = v.duration;
    out.seekTarget = Math.floor(v.duration * 0.75);
    v.currentTime = out.seekTarget;
  });
  v.addEventListener('seeked', () => {
    out.seeked = true;
    out.currentTime = v.currentTime;
    out.readyState = v.readyState;
    done();
  });
  setTimeout(() => fail('timeout'), 60000);
  // --virtual-time-budget lets virtual time run ahead whenever no request is
  // pending, while media loads and decodes in real time: keep one tiny request
  // in flight until the result is written, so the DOM is dumped after it.
  (async () => {
    for (let i = 0; i < 20000 && !finished; i++) await fetch('/hold/' + i).catch(() => {});
  })();
</script>
</body></html>
`;

async function main() {
  ensure('chromium', 'chromium');
  ensure('ffmpeg', 'ffmpeg');
  const { createFileServer } = require(dist);

  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'http-browser-'));
  const root = path.join(base, 'root');
  const profile = path.join(base, 'profile');
  fs.mkdirSync(root);
  fs.mkdirSync(profile);
  let server;
  let failed = false;
  try {
    fs.writeFileSync(path.join(root, 'index.html'), PAGE);
    fs.writeFileSync(path.join(root, 'style.css'), '#probe { width: 123px; display: block; }\n');
    fs.writeFileSync(path.join(root, 'image.png'), makePng(32, 16));
    // 40 s of 10 fps VP8 noise, a keyframe every second: ~10 MB, more than the
    // browser reads ahead, so a seek needs a new range request.
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-f', 'lavfi',
      '-i', 'nullsrc=size=320x240:rate=10', '-filter_complex', '[0][1]blend=all_mode=addition,noise=alls=40:allf=t',
      '-t', '40', '-c:v', 'libvpx', '-b:v', '2M', '-g', '10', '-an', path.join(root, 'video.webm')]);
    const videoSize = fs.statSync(path.join(root, 'video.webm')).size;

    const log = [];
    server = createFileServer({ root, port: 0, log: (e) => log.push(e) });
    const { port } = await server.listen();
    console.log(`serving ${root} on 127.0.0.1:${port} (net: ${server.transport.name}); video ${videoSize} bytes`);

    const dom = await new Promise((resolve, reject) => {
      const child = spawn('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required',
        `--user-data-dir=${profile}`, '--virtual-time-budget=90000', '--dump-dom', `http://127.0.0.1:${port}/`],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (!out) reject(new Error(`chromium exited ${code} without a DOM:\n${err}`));
        else resolve(out);
      });
    });

    const m = /RESULT (\{.*?\})<\/pre>/.exec(dom);
    const result = m ? JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&')) : null;
    console.log(`hold requests: ${log.filter((e) => e.target.startsWith('/hold/')).length}`);
    const videoLog = log.filter((e) => e.target === '/video.webm');
    const partial = videoLog.filter((e) => e.status === 206);
    console.log('DOM result:', result);
    console.log('video requests:', videoLog.map((e) => `${e.status} ${e.range || ''} (${e.bytes} B)`).join(', '));
    const seekRanges = partial.filter((e) => e.range && !e.range.startsWith('bytes 0-'));

    const check = (ok, what) => {
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
      if (!ok) failed = true;
    };
    check(result !== null, 'the page script wrote its result into the DOM');
    check(result && result.cssWidth === '123px', `stylesheet applied (#probe width ${result && result.cssWidth})`);
    check(result && result.imgWidth > 0, `image loaded (naturalWidth ${result && result.imgWidth})`);
    check(result && result.seeked === true && !result.videoError, `video seeked (${result && (result.videoError || result.currentTime)})`);
    check(result && Math.abs(result.currentTime - result.seekTarget) < 1.5, 'video landed near the seek target');
    check(partial.length > 0, `range requests were made for the video (${partial.length} x 206)`);
    check(seekRanges.length > 0, `a range request started past byte 0 (${seekRanges.length})`);
    check(log.some((e) => e.target === '/style.css' && e.status === 200), 'stylesheet served');
    check(log.some((e) => e.target === '/image.png' && e.status === 200), 'image served');
  } finally {
    if (server) await server.close();
    fs.rmSync(base, { recursive: true, force: true });
  }
  console.log(failed ? '\nbrowser test FAILED' : '\nbrowser test passed');
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
