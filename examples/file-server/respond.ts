/**
 * Request -> reply: method check, root confinement, directories (index.html or
 * a listing), conditionals and ranges for files.
 */
import * as path from 'node:path';
import { listDirectoryInside } from './confine';
import { evaluateConditionals, rangeStillValid } from './conditional';
import type { FileCache, CachedFile } from './file-cache';
import type { FileSystem } from './file-io';
import { renderListing } from './listing';
import { contentTypeFor } from './mime';
import type { RequestHead } from './parser';
import { mapTarget, type MappedPath } from './paths';
import { contentRange, evaluateRange, unsatisfiedRange } from './ranges';
import { statusReply, type Reply } from './reply';

/** What {@link respond} needs from the server. */
export interface RespondContext {
  /** Served root, resolved with realpath. */
  realRoot: string;
  cache: FileCache;
  fs: FileSystem;
  /** Serve names starting with `.`. */
  dotfiles: boolean;
  /** Generate listings for directories without index.html. */
  listings: boolean;
}

/** The only methods served. */
export const ALLOW = 'GET, HEAD';

function validators(file: CachedFile): Array<[string, string]> {
  return [
    ['ETag', file.etag],
    ['Last-Modified', file.lastModified],
  ];
}

/** Reply for a regular file (the reference on `file` moves into the reply or is released). */
function fileReply(req: RequestHead, file: CachedFile, name: string): Reply {
  const h = req.headers;
  const cond = evaluateConditionals(h, file.etag, file.stat.mtimeMs);
  if (cond !== 'proceed') {
    file.release();
    if (cond === 'not-modified') return { status: 304, headers: validators(file), body: { kind: 'none' } };
    return statusReply(412);
  }
  const size = file.size;
  const type = contentTypeFor(name);
  const common: Array<[string, string]> = [['Content-Type', type], ['Accept-Ranges', 'bytes'], ...validators(file)];
  const rangeHeader = rangeStillValid(h, file.etag, file.stat.mtimeMs)
    ? h.get('range')
    : undefined;
  const range = evaluateRange(rangeHeader, size);
  if (range.kind === 'unsatisfiable') {
    file.release();
    return statusReply(416, [['Content-Range', unsatisfiedRange(size)]]);
  }
  if (range.kind === 'partial') {
    return {
      status: 206,
      headers: [...common, ['Content-Range', contentRange(range.start, range.end, size)]],
      body: { kind: 'file', file, start: range.start, end: range.end },
    };
  }
  return { status: 200, headers: common, body: { kind: 'file', file, start: 0, end: size - 1 }, wholeFileType: type };
}

/**
 * Build the reply for one request. A reply whose body is a file holds a cache
 * reference that the writer releases after sending. Synchronous when the
 * answer needs no file-system call (a fresh cache entry, a refusal); a
 * Promise otherwise.
 */
export function respond(req: RequestHead, ctx: RespondContext): Reply | Promise<Reply> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return statusReply(405, [['Allow', ALLOW]]);
  const mapped = mapTarget(req.target, ctx.realRoot, ctx.dotfiles ? DOTFILES : NO_DOTFILES);
  if (!mapped.ok) return statusReply(mapped.status);
  if (!mapped.path.trailingSlash) {
    const hit = ctx.cache.peek(mapped.path.fsPath);
    if (hit) return fileReply(req, hit, mapped.path.fsPath);
  }
  return respondLookup(req, ctx, mapped.path);
}

const DOTFILES = { dotfiles: true };
const NO_DOTFILES = { dotfiles: false };

/** {@link respond} for what needs the file system (cache miss or revalidation, directories). */
async function respondLookup(req: RequestHead, ctx: RespondContext, mapped: MappedPath): Promise<Reply> {
  const { fsPath, urlPath, trailingSlash } = mapped;
  const found = await ctx.cache.lookup(fsPath);
  if (found.kind === 'refused') return statusReply(found.status);
  if (found.kind === 'file') {
    if (trailingSlash) {
      found.file.release();
      return statusReply(404); // "file.txt/" names no directory
    }
    return fileReply(req, found.file, fsPath);
  }

  // A directory.
  if (!trailingSlash) {
    const q = req.target.indexOf('?');
    const location = urlPath.split('/').map(encodeURIComponent).join('/') + '/' + (q >= 0 ? req.target.slice(q) : '');
    return statusReply(301, [['Location', location]]);
  }
  const index = await ctx.cache.lookup(path.join(fsPath, 'index.html'));
  if (index.kind === 'file') return fileReply(req, index.file, 'index.html');
  if (!ctx.listings) return statusReply(403);
  const entries = await listDirectoryInside(ctx.fs, ctx.realRoot, found.realPath);
  if (!entries) return statusReply(403);
  const shown = ctx.dotfiles ? entries : entries.filter((e) => !e.name.startsWith('.'));
  const html = Buffer.from(renderListing(urlPath, shown));
  return {
    status: 200,
    headers: [['Content-Type', 'text/html; charset=utf-8'], ['Cache-Control', 'no-cache']],
    body: { kind: 'bytes', data: html },
  };
}
