import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE } from './data-dir-lock.js';

const dirs: string[] = [];
const tmp = async () => {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'keplars-lock-'));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

describe('data folder lock', () => {
  it('refuses a second holder while the first is alive, and frees on release', async () => {
    const dir = await tmp();
    // a live process that is not us holds the lock
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: child.pid }));
    try {
      await expect(acquireDataDirLock(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.on('exit', r));
    const lock = await acquireDataDirLock(dir);
    expect(JSON.parse(await fs.readFile(path.join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    await expect(fs.stat(path.join(dir, LOCK_FILE))).rejects.toThrow();
  });

  it('takes over a lock left by a dead process or by an earlier life with our own pid', async () => {
    const dir = await tmp();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: dead.pid }));
    const lock = await acquireDataDirLock(dir);
    await lock.release();
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid }));
    const again = await acquireDataDirLock(dir);
    await again.release();
  });

  it('takes over an old lock whose pid was reused by an unrelated process', async () => {
    const dir = await tmp();
    const unrelated = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    const file = path.join(dir, LOCK_FILE);
    await fs.writeFile(file, JSON.stringify({ pid: unrelated.pid }));
    const old = new Date(Date.now() - 5 * 60_000);
    await fs.utimes(file, old, old);
    try {
      const lock = await acquireDataDirLock(dir);
      await lock.release();
    } finally {
      unrelated.kill('SIGKILL');
    }
  });
});
