/** Plain HTML directory listings, with every name escaped. */
import type { DirEntryLike } from './file-io';

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Render a listing of `entries` for the directory at URL path `urlPath`
 * (decoded, starting and ending with `/`). Links are percent-encoded per
 * name, so names containing `?`, `#`, `%` or quotes link to themselves.
 */
export function renderListing(urlPath: string, entries: readonly DirEntryLike[]): string {
  const sorted = [...entries].sort((a, b) => {
    const d = Number(b.isDirectory()) - Number(a.isDirectory());
    return d !== 0 ? d : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  const title = escapeHtml(`Index of ${urlPath}`);
  const rows: string[] = [];
  if (urlPath !== '/') rows.push('<li><a href="../">../</a></li>');
  for (const e of sorted) {
    const slash = e.isDirectory() ? '/' : '';
    const href = encodeURIComponent(e.name) + slash;
    rows.push(`<li><a href="${escapeHtml(href)}">${escapeHtml(e.name + slash)}</a></li>`);
  }
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n` +
    `<body><h1>${title}</h1>\n<ul>\n${rows.join('\n')}\n</ul>\n</body></html>\n`
  );
}
