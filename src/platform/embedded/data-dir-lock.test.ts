import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError, describeProcess, LOCK_FILE } from './data-dir-lock.js';
import { processStartAs } from './process-identity.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
const tmp = async () => {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'keplars-lock-'));
  dirs.push(d);
  return d;
};
const liveChild = (): ChildProcess => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  children.push(child);
  return child;
};
const deadPid = async (): Promise<number> => {
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => dead.on('exit', r));
  return dead.pid!;
};
const writeLock = (dir: string, owner: object) => fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify(owner));
const lockOwnerPid = async (dir: string) => (JSON.parse(await fs.readFile(path.join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid;
/** An old lock: a busy owner does not lose its lock however long it has held it. */
const age = async (dir: string) => {
  const old = new Date(Date.now() - 60 * 60_000);
  await fs.utimes(path.join(dir, LOCK_FILE), old, old);
};

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

describe('data folder lock', () => {
  it('refuses a second holder while the first is alive, and frees on release', async () => {
    const dir = await tmp();
    const child = liveChild();
    await writeLock(dir, await describeProcess(child.pid!));
    await age(dir);
    await expect(acquireDataDirLock(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    expect(await lockOwnerPid(dir)).toBe(child.pid);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const lock = await acquireDataDirLock(dir);
    expect(await lockOwnerPid(dir)).toBe(process.pid);
    // this process holds it now: a second open from the same process is refused too
    await expect(acquireDataDirLock(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    await lock.release();
    await expect(fs.stat(path.join(dir, LOCK_FILE))).rejects.toThrow();
  });

  it('records the owner start time and boot, and creates the folder and lock owner-only', async () => {
    const dir = path.join(await tmp(), 'data');
    const lock = await acquireDataDirLock(dir);
    const recorded = JSON.parse(await fs.readFile(path.join(dir, LOCK_FILE), 'utf8')) as { pid: number; start: string; boot: string | null };
    expect(recorded.pid).toBe(process.pid);
    expect(recorded.start).toMatch(/^proc:\d+$/);
    expect(recorded.start).toBe(await processStartAs(process.pid, 'proc'));
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(dir, LOCK_FILE))).mode & 0o777).toBe(0o600);
    await lock.release();
  });

  it('never takes the lock of a live owner that cannot be told apart from a new life of its pid', async () => {
    const dir = await tmp();
    const child = liveChild();
    await writeLock(dir, { pid: child.pid }); // a lock of an older version: no start time
    await age(dir);
    await expect(acquireDataDirLock(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    expect(await lockOwnerPid(dir)).toBe(child.pid);
  });

  it('takes over a lock left by a dead process, a garbled one, or an earlier life with our own pid', async () => {
    const dir = await tmp();
    await writeLock(dir, { pid: await deadPid(), start: 'proc:1', boot: null });
    await (await acquireDataDirLock(dir)).release();
    await fs.writeFile(path.join(dir, LOCK_FILE), '');
    await (await acquireDataDirLock(dir)).release();
    await writeLock(dir, { pid: process.pid, start: 'proc:1', boot: null });
    await (await acquireDataDirLock(dir)).release();
    await writeLock(dir, { pid: process.pid });
    await (await acquireDataDirLock(dir)).release();
  });

  it('takes over a lock whose live pid started at another time or in another boot (the pid was reused)', async () => {
    const dir = await tmp();
    const unrelated = liveChild();
    const real = await describeProcess(unrelated.pid!);
    await writeLock(dir, { ...real, start: `proc:${Number(real.start!.slice(5)) - 1}` });
    await (await acquireDataDirLock(dir)).release();
    await writeLock(dir, { ...real, boot: 'another-boot' });
    await (await acquireDataDirLock(dir)).release();
  });

  it('compares start times read with ps where a lock recorded them that way', async () => {
    const dir = await tmp();
    const child = liveChild();
    const byPs = await processStartAs(child.pid!, 'ps');
    expect(byPs).toMatch(/^ps:\S.*\d$/);
    expect(await processStartAs(child.pid!, 'ps')).toBe(byPs);
    expect(await processStartAs(await deadPid(), 'ps')).toBeNull();
    await writeLock(dir, { pid: child.pid, start: byPs, boot: null });
    await expect(acquireDataDirLock(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    await writeLock(dir, { pid: child.pid, start: 'ps:Thu Jan  1 00:00:01 1970', boot: null });
    await (await acquireDataDirLock(dir)).release();
  });
});
