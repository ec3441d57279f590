#!/usr/bin/env node
/*
 * The test suite against an AddressSanitizer + UndefinedBehaviorSanitizer
 * build of the addon: heap and stack overflows, use-after-free, double free
 * and undefined behaviour in native/uring are reported, with stacks, instead
 * of passing silently. The normal build (build/Release) is left alone: the
 * sanitized one goes to build-sanitize/ and the tests load it through
 * URING_ADDON (lib/native.ts).
 *
 *   npm run test:sanitize [-- FILTER]     (FILTER as for test/run.js)
 *
 * Node itself is not instrumented, so the sanitizer runtimes are preloaded
 * (LD_PRELOAD) into every process the tests start. Leak detection is off (it
 * would report V8's and Node's own allocations at exit). curl is run through
 * a wrapper without the preload: curl hangs with ASan preloaded. Exits 1 if
 * any test failed or any sanitizer report was written; the reports are
 * printed.
 * Needs gcc with libasan and libubsan (Debian: apt-get install -y gcc).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build-sanitize');
const addon = path.join(buildDir, 'build', 'Release', 'uring.node');
const flags = '-fsanitize=address,undefined -fno-omit-frame-pointer -g';

function runtime(name) {
  const r = spawnSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' });
  const file = (r.stdout || '').trim();
  if (r.status !== 0 || !path.isAbsolute(file) || !fs.existsSync(file)) {
    console.error(`sanitize: gcc has no ${name} (install gcc with its sanitizer runtimes: apt-get install -y gcc)`);
    process.exit(2);
  }
  return file;
}

function build() {
  fs.mkdirSync(buildDir, { recursive: true });
  fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(buildDir, 'binding.gyp'));
  const link = path.join(buildDir, 'native');
  const target = path.join(root, 'native');
  let current;
  try { current = fs.readlinkSync(link); } catch { current = undefined; }
  if (current !== target) {
    fs.rmSync(link, { force: true, recursive: true }); // stale, dangling or from another checkout
    fs.symlinkSync(target, link);
  }
  // npm's own node-gyp, as `npm install` uses; -C: build in buildDir.
  const r = spawnSync('npm', ['run', '-s', 'build:native', '--', '-C', buildDir], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, CFLAGS: flags, CXXFLAGS: flags, LDFLAGS: '-fsanitize=address,undefined' },
  });
  if (r.status !== 0 || !fs.existsSync(addon)) {
    console.error('sanitize: the sanitized build failed');
    process.exit(2);
  }
  // The addon itself must be instrumented (the flags could be dropped by the build): it then needs the runtimes.
  const needed = spawnSync('readelf', ['-d', addon], { encoding: 'utf8' }).stdout || '';
  if (!/NEEDED.*libasan/.test(needed) || !/NEEDED.*libubsan/.test(needed)) {
    console.error(`sanitize: ${addon} was built without the sanitizers (readelf -d shows no libasan/libubsan)`);
    process.exit(2);
  }
}

/** A directory with a `curl` that runs the real one without the sanitizer preload. */
function curlWrapper() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-sanitize-bin-'));
  const real = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
  if (real) {
    fs.writeFileSync(path.join(dir, 'curl'), `#!/bin/sh\nunset LD_PRELOAD\nexec ${JSON.stringify(real)} "$@"\n`, { mode: 0o755 });
  }
  return dir;
}

function main() {
  const preload = [runtime('libasan.so'), runtime('libubsan.so')].join(' ');
  build();
  const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-sanitize-logs-'));
  const bin = curlWrapper();
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    LD_PRELOAD: preload,
    URING_ADDON: addon,
    // V8 handles SIGSEGV itself (WebAssembly bounds checks): ASan must leave that signal to it.
    ASAN_OPTIONS: `detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:log_path=${logs}/asan`,
    UBSAN_OPTIONS: `print_stacktrace=1:log_path=${logs}/ubsan`,
  };
  // The runtime must really be in the test processes, or a clean run would prove nothing.
  const probe = spawnSync(process.execPath, ['-e',
    'require(process.env.URING_ADDON); const m = require("fs").readFileSync("/proc/self/maps", "utf8");' +
    'process.stdout.write(String(m.includes("libasan") && m.includes("libubsan")))'], { env, encoding: 'utf8' });
  if (probe.stdout !== 'true') {
    console.error(`sanitize: the sanitizer runtimes are not loaded in a test process\n${probe.stderr}`);
    process.exit(2);
  }
  const tests = spawnSync(process.execPath, [path.join(__dirname, 'run.js'), ...process.argv.slice(2)], { env, stdio: 'inherit' });
  fs.rmSync(bin, { recursive: true, force: true });
  const reports = fs.readdirSync(logs).map((f) => path.join(logs, f));
  for (const f of reports) {
    console.log(`----- ${path.basename(f)} -----`);
    console.log(fs.readFileSync(f, 'utf8'));
  }
  console.log(`sanitizer reports: ${reports.length}${reports.length ? ` (in ${logs})` : ''}`);
  if (!reports.length) fs.rmSync(logs, { recursive: true, force: true });
  process.exit(tests.status === 0 && reports.length === 0 ? 0 : 1);
}

main();
