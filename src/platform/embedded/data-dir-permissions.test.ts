import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDataDirPrivate } from './data-dir-permissions.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

describe('makeDataDirPrivate', () => {
  it('creates a missing folder 0700 and tightens what an existing one holds, without following links out of it', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'keplars-perms-unit-'));
    roots.push(root);
    const created = path.join(root, 'new', 'data');
    expect(await makeDataDirPrivate(created)).toEqual([]);
    expect((await fs.stat(created)).mode & 0o777).toBe(0o700);

    const dir = path.join(root, 'old');
    const outside = path.join(root, 'outside.txt');
    await fs.mkdir(path.join(dir, 'pgdata', 'base'), { recursive: true });
    await fs.writeFile(path.join(dir, 'pgdata', 'base', '1'), 'x');
    await fs.writeFile(path.join(dir, 'secret.key'), 'k');
    await fs.writeFile(outside, 'not ours');
    await fs.symlink(outside, path.join(dir, 'link'));
    for (const p of ['.', 'pgdata', 'pgdata/base']) await fs.chmod(path.join(dir, p), 0o755);
    for (const p of ['pgdata/base/1', 'secret.key']) await fs.chmod(path.join(dir, p), 0o640);
    await fs.chmod(outside, 0o644);

    expect(await makeDataDirPrivate(dir)).toEqual(['.', 'pgdata', 'secret.key', 'pgdata/base', 'pgdata/base/1']);
    for (const p of ['.', 'pgdata', 'pgdata/base']) expect((await fs.stat(path.join(dir, p))).mode & 0o777).toBe(0o700);
    for (const p of ['pgdata/base/1', 'secret.key']) expect((await fs.stat(path.join(dir, p))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(outside)).mode & 0o777).toBe(0o644);
    expect(await makeDataDirPrivate(dir)).toEqual([]);
  });
});
