#!/usr/bin/env node
/*
 * Runs every compiled test file (dist/test/*.test.js) with uvu, each in its
 * own process (a crash in one file cannot hide the others' results), with
 * --expose-gc for the GC-safety tests. Prints the real totals last:
 * "N passed, N failed". A test the machine cannot run is not counted as
 * passed: uvu's test.skip and the marker printed by skipTest() in
 * test/helpers.ts are counted as skipped, listed with their reasons above the
 * totals.
 *
 * Usage: node test/run.js [filter]   (filter: substring of the file name)
 * URING_TEST_JOBS=n runs n files at once (default 2).
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'dist', 'test');
const filter = process.argv[2] || '';
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.test.js') && f.includes(filter)).sort();
const jobs = Math.max(1, Number(process.env.URING_TEST_JOBS) || 2);
const uvu = path.join(path.dirname(require.resolve('uvu')), '..', 'bin.js');

let passed = 0;
let failed = 0;
const failures = [];
const skips = [];
const SKIP_MARK = /^# uring-test-skipped: (.*)$/gm;

/** The environment for test processes (uvu runs with --no-color, so no colour codes are captured). */
function noColorEnv() {
  const env = { ...process.env };
  delete env.FORCE_COLOR; // with NO_COLOR also set, Node warns, and tests that count warnings would see it
  return env;
}

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--expose-gc', uvu, dir, `^${file.replace(/\./g, '\\.')}$`, '--no-color'], {
      env: noColorEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const total = /Total:\s+(\d+)/.exec(out);
      const ok = /Passed:\s+(\d+)/.exec(out);
      const skipped = /Skipped:\s+(\d+)/.exec(out);
      const marked = [...out.matchAll(SKIP_MARK)].map((m) => m[1]);
      const uvuSkipped = skipped ? Number(skipped[1]) : 0;
      let p = 0;
      let f = 0;
      if (total && ok) {
        // A test that called skipTest() returned early and uvu counted it as passed.
        p = Math.max(0, Number(ok[1]) - marked.length);
        f = Number(total[1]) - Number(ok[1]); // uvu's Total leaves out the tests it skipped
        if (f < 0) f = 0;
        if (code !== 0 && f === 0) f = 1; // exited badly after reporting
      } else {
        f = 1; // crashed before reporting
      }
      passed += p;
      failed += f;
      for (const why of marked) skips.push(`${file}: ${why}`);
      if (uvuSkipped) skips.push(`${file}: ${uvuSkipped} test(s) not run (test.skip, or left out by a test.only)`);
      const nSkipped = marked.length + uvuSkipped;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const skipNote = nSkipped ? `, ${nSkipped} skipped` : '';
      process.stdout.write(`${f ? 'FAIL' : 'ok  '} ${file}  (${p} passed, ${f} failed${skipNote}, ${secs}s)\n`);
      if (f) failures.push({ file, out, code, signal });
      resolve();
    });
  });
}

(async () => {
  const queue = files.slice();
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (queue.length) await runOne(queue.shift());
  }));
  for (const { file, out, code, signal } of failures) {
    process.stdout.write(`\n----- ${file} (exit ${code}${signal ? ', ' + signal : ''}) -----\n${out}\n`);
  }
  if (skips.length) process.stdout.write(`\nSkipped (not counted as passed):\n${skips.map((x) => '  ' + x).join('\n')}\n`);
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exitCode = failed ? 1 : 0;
})();
