/**
 * Where an open file or directory really is, for keeping answers inside the root.
 *
 * realpath() tells where a path led when it was resolved, but a directory on
 * the way can be swapped for a symlink before the file is opened, and
 * O_NOFOLLOW guards only the last component: the open then follows the new
 * symlink out of the root. What an open descriptor names cannot change, and
 * Linux shows it as the target of `/proc/self/fd/N`. Checking that after the
 * open closes the window; listing a directory through that same link lists
 * exactly the directory that was checked.
 */
import { constants as fsConstants } from 'node:fs';
import { readlink } from 'node:fs/promises';
import type { DirEntryLike, FileLike, FileSystem } from './file-io';
import { isInside } from './paths';

/** The path naming the open descriptor `fd`: opening or listing it reaches that same file, whatever happened to its name. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * Whether the open descriptor `fd` names something under `realRoot` (the
 * root's realpath; a file deleted since it was opened still counts as where
 * it was). When the kernel cannot tell (no /proc mounted) the answer is
 * true: the caller then relies on its realpath check alone, as it did before
 * this check existed.
 */
export async function openedInside(fd: number, realRoot: string): Promise<boolean> {
  let where: string;
  try {
    where = await readlink(fdPath(fd));
  } catch {
    return true;
  }
  return isInside(realRoot, where);
}

/** O_DIRECTORY | O_NOFOLLOW: still a directory, and not a symlink to one. */
const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;

/**
 * The entries of the directory `realPath` (a realpath under `realRoot`), or
 * null when it cannot be listed or is no longer inside the root: a directory
 * on the way may have been swapped for a symlink since `realPath` was
 * resolved. The directory is opened, checked with {@link openedInside} and
 * listed through its descriptor, so the listing is of the directory checked.
 */
export async function listDirectoryInside(fs: FileSystem, realRoot: string, realPath: string): Promise<DirEntryLike[] | null> {
  let dir: FileLike;
  try {
    dir = await fs.open(realPath, DIR_FLAGS);
  } catch {
    return null;
  }
  try {
    if (!(await openedInside(dir.fd, realRoot))) return null;
    try {
      return await fs.readdir(fdPath(dir.fd));
    } catch (err) {
      // With /proc mounted an open descriptor's path exists: ENOENT means no /proc, so list by path as before.
      if ((err as NodeJS.ErrnoException | null)?.code !== 'ENOENT') throw err;
      return await fs.readdir(realPath);
    }
  } catch {
    return null;
  } finally {
    await dir.close().catch(() => undefined);
  }
}
