/**
 * Root confinement: turning a request-target into a path under the root, and
 * checking that the real (symlink-resolved) path is still inside it.
 *
 * Refused before the file system is touched (400): anything but origin-form
 * (`/path`), so absolute-form `http://host/...` and `*`; backslashes; bad
 * percent-encodings; encoded `/` or `\` (`%2f`, `%5c`); NUL (`%00`) and other
 * control characters; invalid UTF-8. Refused with 403: `.` and `..` segments
 * (also when percent-encoded). Hidden names (leading `.`) are 404 unless
 * allowed. Symlinks leaving the root are caught by {@link isInside} on the
 * realpath (403).
 */
import * as path from 'node:path';

/** A request-target mapped under the root. */
export interface MappedPath {
  /** Decoded URL path, starting with `/` (for listings and redirects). */
  urlPath: string;
  /** Lexical file-system path: root joined with the decoded segments. */
  fsPath: string;
  /** Whether the URL path ends with `/`. */
  trailingSlash: boolean;
}

/** Result of {@link mapTarget}: a path, or the status to refuse with. */
export type MapResult = { ok: true; path: MappedPath } | { ok: false; status: 400 | 403 | 404; reason: string };

/** Options for {@link mapTarget}. */
export interface MapOptions {
  /** Serve names starting with `.` (default false: 404). */
  dotfiles?: boolean;
}

const HEX = /^[0-9a-fA-F]{2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function refuse(status: 400 | 403 | 404, reason: string): MapResult {
  return { ok: false, status, reason };
}

/** Strict percent-decoding of one path segment; null when invalid or unsafe. */
function decodeSegment(seg: string): string | null {
  if (!seg.includes('%')) return seg;
  const bytes: number[] = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c === 0x25) {
      const hex = seg.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c); // the parser guarantees visible ASCII
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/** Characters a path can hold without decoding or checks: unreserved ones (RFC 3986) and `/`. */
const PLAIN = new Uint8Array(128);
for (const c of '-._~/') PLAIN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) PLAIN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) PLAIN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) PLAIN[c] = 1;

/**
 * {@link mapTarget} for the common path (`rawPath` starts with `/`): only
 * unreserved characters and `/`, no empty segment and no segment starting
 * with `.`. Such a path needs no decoding, joins to the root as it is and
 * cannot leave it. Anything else returns null and takes the full checks.
 */
function mapPlain(rawPath: string, root: string): MapResult | null {
  const n = rawPath.length;
  let prev = 0x2f;
  for (let i = 1; i < n; i++) {
    const c = rawPath.charCodeAt(i);
    if (c >= 0x80 || PLAIN[c] === 0) return null;
    if (prev === 0x2f && (c === 0x2f || c === 0x2e)) return null; // "//", or ".", ".." or a hidden name
    prev = c;
  }
  const trailingSlash = prev === 0x2f;
  const rel = trailingSlash ? rawPath.slice(0, n - 1) : rawPath; // "" for "/"
  const fsPath = rel === '' ? root : root.endsWith(path.sep) ? root + rel.slice(1) : root + rel;
  return { ok: true, path: { urlPath: rawPath, fsPath, trailingSlash } };
}

/**
 * Map a request-target (as received) to a path under `root` (an absolute,
 * already resolved directory). Does not touch the file system.
 */
export function mapTarget(target: string, root: string, options: MapOptions = {}): MapResult {
  if (!target.startsWith('/')) return refuse(400, 'only origin-form request-targets are accepted');
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const plain = mapPlain(rawPath, root);
  if (plain) return plain;
  if (rawPath.includes('#')) return refuse(400, 'fragment in request-target');
  if (rawPath.includes('\\')) return refuse(400, 'backslash in path');
  if (/%(2f|5c)/i.test(rawPath)) return refuse(400, 'encoded slash or backslash in path');
  const segments: string[] = [];
  const rawSegments = rawPath.split('/');
  for (let i = 1; i < rawSegments.length; i++) {
    const seg = decodeSegment(rawSegments[i]);
    if (seg === null) return refuse(400, 'invalid percent-encoding');
    // Controls (NUL included) and DEL never name a file we serve.
    if (/[\x00-\x1f\x7f]/.test(seg)) return refuse(400, 'control character in path');
    if (seg.includes('/') || seg.includes('\\')) return refuse(400, 'slash in segment');
    if (seg === '.' || seg === '..') return refuse(403, 'dot segment');
    if (seg === '') continue; // empty segments ("//", trailing "/") add nothing
    if (seg.startsWith('.') && !options.dotfiles) return refuse(404, 'hidden name');
    segments.push(seg);
  }
  const trailingSlash = rawPath.endsWith('/');
  const fsPath = path.join(root, ...segments);
  if (!isInside(root, fsPath)) return refuse(403, 'outside the root');
  const urlPath = '/' + segments.join('/') + (trailingSlash && segments.length > 0 ? '/' : '');
  return { ok: true, path: { urlPath, fsPath, trailingSlash } };
}

/** Whether `p` is `root` or below it (both absolute and normalized). */
export function isInside(root: string, p: string): boolean {
  if (p === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return p.startsWith(prefix);
}
