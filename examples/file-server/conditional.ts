/**
 * Validators (ETag, Last-Modified) and conditional requests (RFC 9110 section 13):
 * If-Match / If-Unmodified-Since (412), If-None-Match / If-Modified-Since (304),
 * If-Range (whether a Range header still applies).
 */
import type { StatLike } from './file-io';

/**
 * A strong entity tag from the file's identity and version: inode, size and
 * modification time (microseconds). Changes whenever the content can have.
 */
export function etagOf(st: Pick<StatLike, 'ino' | 'size' | 'mtimeMs'>): string {
  const us = Math.round(st.mtimeMs * 1000);
  return `"${st.ino.toString(16)}-${st.size.toString(16)}-${us.toString(16)}"`;
}

/** `Last-Modified` value (an IMF-fixdate). */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Outcome of the preconditions: go on with the request, or answer 304 / 412. */
export type ConditionalOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

/** Header fields that carry preconditions (lower-case names). */
export interface ConditionalHeaders {
  get(name: string): string | undefined;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

function tagList(value: string): string[] {
  return value.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
}

/** Seconds since the epoch of an HTTP date, or NaN. */
function parseDateSeconds(value: string): number {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? NaN : Math.floor(ms / 1000);
}

/**
 * Evaluate preconditions in the RFC 9110 section 13.2.2 order for a GET/HEAD of a
 * representation with validators `etag` and `mtimeMs`.
 */
export function evaluateConditionals(h: ConditionalHeaders, etag: string, mtimeMs: number): ConditionalOutcome {
  const modified = Math.floor(mtimeMs / 1000);
  const ifMatch = h.get('if-match');
  if (ifMatch !== undefined) {
    const tags = tagList(ifMatch);
    // Strong comparison: weak tags never match.
    if (!tags.includes('*') && !tags.some((t) => !t.startsWith('W/') && t === etag)) return 'precondition-failed';
  } else {
    const ius = h.get('if-unmodified-since');
    if (ius !== undefined) {
      const s = parseDateSeconds(ius);
      if (!Number.isNaN(s) && modified > s) return 'precondition-failed';
    }
  }
  const inm = h.get('if-none-match');
  if (inm !== undefined) {
    const tags = tagList(inm);
    // Weak comparison.
    if (tags.includes('*') || tags.some((t) => opaque(t) === opaque(etag))) return 'not-modified';
    return 'proceed';
  }
  const ims = h.get('if-modified-since');
  if (ims !== undefined) {
    const s = parseDateSeconds(ims);
    if (!Number.isNaN(s) && modified <= s) return 'not-modified';
  }
  return 'proceed';
}

/**
 * Whether a Range header applies given `If-Range` (absent: yes). An entity tag
 * must match strongly; a date must equal Last-Modified exactly.
 */
export function rangeStillValid(h: ConditionalHeaders, etag: string, mtimeMs: number): boolean {
  const ifRange = h.get('if-range');
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === etag;
  const s = parseDateSeconds(v);
  return !Number.isNaN(s) && s === Math.floor(mtimeMs / 1000);
}
