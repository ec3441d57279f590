/**
 * Helpers shared by the zero-copy file tests: temporary directories on a
 * file system that accepts O_DIRECT, fd counting, hashing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

/** A fresh temporary directory on a disk-backed file system (O_DIRECT works there). */
export function diskTmpDir(prefix: string): string {
  const base = os.tmpdir();
  const probe = fs.mkdtempSync(path.join(base, prefix));
  try {
    const f = path.join(probe, 'probe');
    fs.writeFileSync(f, '');
    fs.closeSync(fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_DIRECT));
    fs.rmSync(f);
    return probe;
  } catch {
    // os.tmpdir() is tmpfs here: use a git-ignored directory inside the worktree.
    fs.rmSync(probe, { recursive: true, force: true });
    const local = path.join(__dirname, '..', '..', '.tmp-direct');
    fs.mkdirSync(local, { recursive: true });
    return fs.mkdtempSync(path.join(local, prefix));
  }
}

/** Open file descriptors of this process. */
export { openFds as fdCount } from './helpers';

/** sha256 of a whole file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Waits until `cond()` holds, checking on every turn of the event loop (no fixed sleep). */
export async function until(cond: () => boolean, what: string, limitMs = 10000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Open pipe file descriptors of this process. */
export function pipeFdCount(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('pipe:')) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}
