/**
 * `Range: bytes=...` evaluation (RFC 9110 section 14).
 *
 * One range is answered with 206; several ranges are answered with the full
 * body (200), which the RFC allows; a syntactically invalid header or another
 * unit is ignored (200); a range starting at or past the end is 416. A
 * suffix range (`bytes=-N`, N > 0) of an empty body is satisfiable: 200.
 */

/** What to send for a Range header against a representation of `size` bytes. */
export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SPEC = /^(\d*)-(\d*)$/;

/**
 * Decide how to answer `header` (the Range field value, or undefined) for a
 * body of `size` bytes. `end` of a partial answer is inclusive.
 */
export function evaluateRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'full' };
  const specs = header.slice(eq + 1).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (specs.length === 0) return { kind: 'full' };
  const parsed: Array<{ start: number; end: number } | null> = [];
  for (const spec of specs) {
    const m = SPEC.exec(spec);
    if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' }; // malformed: ignore the header
    if (m[1].length > 15 || m[2].length > 15) return { kind: 'full' };
    if (m[1] === '') {
      const suffix = Number(m[2]);
      if (suffix === 0) {
        parsed.push(null);
        continue;
      }
      // A non-zero suffix is satisfiable even on an empty body (RFC 9110 14.1.1), but no
      // Content-Range can name zero bytes: the answer is the whole, empty body (200).
      if (size === 0) return { kind: 'full' };
      parsed.push({ start: Math.max(0, size - suffix), end: size - 1 });
    } else {
      const start = Number(m[1]);
      if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' }; // invalid range-spec: ignore the header
      const last = m[2] === '' ? size - 1 : Number(m[2]);
      parsed.push(start >= size ? null : { start, end: Math.min(last, size - 1) });
    }
  }
  const satisfiable = parsed.filter((r): r is { start: number; end: number } => r !== null);
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  if (parsed.length > 1) return { kind: 'full' };
  return { kind: 'partial', start: satisfiable[0].start, end: satisfiable[0].end };
}

/** `Content-Range` value for a partial answer. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** `Content-Range` value for a 416 answer. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
