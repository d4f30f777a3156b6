import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/app.js';
import { walk } from './support/files.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';

const openToOthers = async (root: string) => [...(await walk(root))].filter(([, s]) => (s.mode & 0o077) !== 0).map(([p, s]) => `${p} ${s.mode.toString(8)}`);

describe('data folder permissions', () => {
  let root: string;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'keplars-perms-'));
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop('SIGKILL');
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('a new data folder is owner-only, and one open to others is tightened at start with a warning', async () => {
    const dataDir = path.join(root, 'data');
    const env = { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', DNS_SERVERS: '127.0.0.1:9' };
    const first = await startServerProcess('start', env);
    servers.push(first);
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Perms', '--json'], env)).stdout) as { workspace: { id: string } };
    // a custom domain makes the server key, DATA_DIR/secret.key
    const added = await runCli(['domain', 'add', '--workspace', ws.workspace.id, '--domain', 'perms.test'], env);
    expect(added.code, added.stderr).toBe(0);
    expect(await first.stop('SIGTERM')).toBe(0);

    const fresh = await walk(dataDir);
    expect([...fresh.keys()]).toEqual(expect.arrayContaining(['.', 'pgdata', 'pgdata/PG_VERSION', 'secret.key']));
    expect(fresh.size).toBeGreaterThan(500); // PGlite's whole folder, made by its initdb child and the server
    expect(await openToOthers(dataDir)).toEqual([]);
    expect(first.output()).not.toContain('open to other users');

    // a folder from an earlier version: 0755 folders, 0644 files
    for (const [p, s] of fresh) await fs.chmod(path.join(dataDir, p), s.dir ? 0o755 : 0o644);
    expect((await openToOthers(dataDir)).length).toBe(fresh.size);

    const second = await startServerProcess('start', env);
    servers.push(second);
    const warning = second
      .output()
      .split('\n')
      .filter((l) => l.includes('open to other users'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; count: number; tightened: string[] });
    expect(warning).toHaveLength(1);
    expect(warning[0]!.level).toBe(40);
    expect(warning[0]!.count).toBe(fresh.size);
    expect(warning[0]!.tightened.slice(0, 3)).toEqual(['.', 'pgdata', 'secret.key']);
    expect(warning[0]!.msg).toContain(`removed group and other permissions from ${fresh.size} path(s): ., pgdata, secret.key, pgdata/`);
    expect(await openToOthers(dataDir)).toEqual([]);
    expect((await call(`${second.url}/health`)).status).toBe(200);
  });

  it('a CLI command that opens the folder itself (no server running) keeps it owner-only too, and warns on stderr', async () => {
    const dataDir = path.join(root, 'cli-data');
    const env = { DATA_DIR: dataDir };
    const created = await runCli(['workspace', 'create', '--name', 'Perms'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).not.toContain('warning');
    expect((await walk(dataDir)).has('pgdata/PG_VERSION')).toBe(true);
    expect(await openToOthers(dataDir)).toEqual([]);

    await fs.chmod(dataDir, 0o755);
    await fs.chmod(path.join(dataDir, 'pgdata', 'PG_VERSION'), 0o644);
    const listed = await runCli(['workspace', 'list'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toContain('warning: The data folder was open to other users: removed group and other permissions from 2 path(s): ., pgdata/PG_VERSION');
    expect(await openToOthers(dataDir)).toEqual([]);
  });
});
