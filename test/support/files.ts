import fs from 'node:fs/promises';
import path from 'node:path';

export interface FileState {
  mode: number;
  dir: boolean;
  size: number;
  mtimeMs: number;
}

/** Every path under a folder (the folder itself as ".") with its permission bits, kind, size and modification time. */
export async function walk(root: string): Promise<Map<string, FileState>> {
  const found = new Map<string, FileState>();
  const pending = [root];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    const stat = await fs.lstat(current);
    found.set(path.relative(root, current) || '.', { mode: stat.mode & 0o7777, dir: stat.isDirectory(), size: stat.size, mtimeMs: stat.mtimeMs });
    if (stat.isDirectory()) for (const name of await fs.readdir(current)) pending.push(path.join(current, name));
  }
  return found;
}
