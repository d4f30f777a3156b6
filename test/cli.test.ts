import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, waitFor } from './support/app.js';
import { createPostgresDatabase, type TestPostgres } from './support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';
import { initialisedDataDir } from './support/data-dirs.js';

const KEY = /^kms_[a-f0-9]+\.(live|adm)_[a-f0-9]+$/;

describe('operator CLI on the embedded database', () => {
  let dataDir: string;
  const servers: ServerProcess[] = [];
  const env = () => ({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' });

  beforeAll(async () => {
    dataDir = await initialisedDataDir('keplars-cli-');
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop('SIGKILL');
  });
  afterAll(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('creates and lists workspaces and keys without a running server, refusing a sixth admin key', async () => {
    // an unknown --print field fails before anything is created
    const unknownField = await runCli(['workspace', 'create', '--name', 'Never', '--print', 'nope'], env());
    expect([unknownField.code, unknownField.stdout]).toEqual([2, '']);
    expect(unknownField.stderr).toMatch(/^keplars-server workspace create: the result of workspace create has no field "nope"; .*\. Try: keplars-server help workspace create\n$/);

    const created = await runCli(['workspace', 'create', '--name', 'Acme', '--plan', 'LAUNCH', '--json'], env());
    expect(created.code, created.stderr).toBe(0);
    const ws = JSON.parse(created.stdout) as { workspace: { id: string; plan: string }; admin_key: string };
    expect(ws.workspace.plan).toBe('LAUNCH');
    expect(ws.admin_key).toMatch(KEY);
    expect(ws.admin_key).toContain('.adm_');

    const list = await runCli(['workspace', 'list', '--json'], env());
    expect((JSON.parse(list.stdout) as { workspaces: { id: string }[] }).workspaces.map((w) => w.id)).toEqual([ws.workspace.id]);

    const regular = await runCli(['api-key', 'create', '--workspace', ws.workspace.id, '--name', 'app', '--json'], env());
    expect((JSON.parse(regular.stdout) as { secret_key: string }).secret_key).toMatch(/^kms_[a-f0-9]+\.live_[a-f0-9]+$/);

    for (let i = 0; i < 4; i++) {
      const admin = await runCli(['admin-key', 'create', '--workspace', ws.workspace.id, '--scopes', 'contacts:read,domains:manage', '--json'], env());
      expect(admin.code, admin.stderr).toBe(0);
    }
    const sixth = await runCli(['admin-key', 'create', '--workspace', ws.workspace.id, '--scopes', 'contacts:read'], env());
    expect(sixth.code).toBe(1);
    expect(sixth.stderr).toContain('at most 5 admin');

    const badScope = await runCli(['admin-key', 'create', '--workspace', ws.workspace.id, '--scopes', 'email:everything'], env());
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain('--scopes must be a comma-separated list of contacts:read');
  }, 180_000); // a dozen processes, each opening the embedded database, on a shared machine

  it('goes through the running server, which holds the data folder; a second server is refused', async () => {
    const server = await startServerProcess('start', env());
    servers.push(server);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const stat = await fs.stat(path.join(dataDir, 'admin.sock'));
    expect(stat.mode & 0o777).toBe(0o600);

    const unknownField = await runCli(['workspace', 'create', '--name', 'Never', '--print', 'nope'], env());
    expect([unknownField.code, unknownField.stdout]).toEqual([2, '']);
    expect(unknownField.stderr).toContain('has no field "nope"');
    // a refusal inside the server is one line too (its code crosses the admin socket)
    const unknownId = await runCli(['workspace', 'usage', '--workspace', '01a23033-2766-739f-91c8-818e952285f3'], env());
    expect([unknownId.code, unknownId.stderr]).toEqual([1, 'keplars-server workspace usage: Workspace 01a23033-2766-739f-91c8-818e952285f3 not found. Try: keplars-server workspace list\n']);

    const created = await runCli(['workspace', 'create', '--name', 'Live', '--json'], env());
    expect(created.code, created.stderr).toBe(0);
    const ws = JSON.parse(created.stdout) as { workspace: { id: string } };
    const key = JSON.parse((await runCli(['api-key', 'create', '--workspace', ws.workspace.id, '--json'], env())).stdout) as { secret_key: string };
    const sent = await call(`${server.url}/api/v1/send-email/instant`, { key: key.secret_key, body: { to: 'dev@example.test', subject: 'first', body: 'hello' } });
    expect(sent.status).toBe(200);
    const names = (JSON.parse((await runCli(['workspace', 'list', '--json'], env())).stdout) as { workspaces: { name: string }[] }).workspaces.map((w) => w.name);
    expect(names.sort()).toEqual(['Acme', 'Live']);

    const second = await runCli(['start'], env(), 30_000);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('is in use by another keplars-server process');
  });

  it('comes back by itself after SIGKILL and delivers what was accepted', async () => {
    const first = await startServerProcess('start', env());
    servers.push(first);
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Crash', '--plan', 'ENTERPRISE', '--json'], env())).stdout) as { workspace: { id: string } };
    const key = (JSON.parse((await runCli(['api-key', 'create', '--workspace', ws.workspace.id, '--json'], env())).stdout) as { secret_key: string }).secret_key;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await call(`${first.url}/api/v1/send-email/bulk`, { key, body: { to: `r${i}@example.test`, subject: `n${i}`, body: 'x' } });
      expect(r.status).toBe(200);
      ids.push(r.body.id as string);
    }
    await first.stop('SIGKILL');

    const second = await startServerProcess('start', env());
    servers.push(second);
    const health = await call(`${second.url}/health`);
    expect(health.status).toBe(200);
    for (const id of ids) {
      await waitFor(async () => {
        const r = await call(`${second.url}/api/v1/public/emails/get-email?id=${id}`, { key });
        return r.body.status === 'delivered' ? r : null;
      }, { what: `email ${id} delivered after restart` });
    }
    const captured = await call(`${second.url}/api/v1/captured?limit=100`, { key });
    const got = (captured.body.data as { messages: { email_id: string }[] }).messages.map((m) => m.email_id);
    for (const id of ids) expect(got).toContain(id);
  });

  it('stops with a clear message on a bad configuration value; help and the version need no configuration', async () => {
    const bad = { ...env(), PORT: 'eighty', DEFAULT_PLAN: 'GOLD' };
    const res = await runCli(['start'], bad);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^keplars-server start: Invalid configuration: PORT="eighty": .*; DEFAULT_PLAN="GOLD": must be one of FREE, LAUNCH, CUSTOM, ENTERPRISE\. Fix the environment/);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);

    const help = await runCli(['workspace', 'create', '--help'], bad);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: keplars-server workspace create --name NAME [--plan PLAN] [--json | --print FIELD] [--wait SECONDS]');
    const version = await runCli(['--version'], bad);
    expect(version.stdout).toMatch(/^keplars-server \d+\.\d+\.\d+/);
  });
});

describe('operator CLI on PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await createPostgresDatabase();
  });
  afterAll(() => pg?.drop());

  it('migrates, creates a workspace and keys, and lists them', async () => {
    const env = { DATABASE_URL: pg.url };
    const migrated = await runCli(['migrate', '--json'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect((JSON.parse(migrated.stdout) as { applied: string[] }).applied).toContain('001_core.sql');
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'PG', '--plan', 'ENTERPRISE', '--json'], env)).stdout) as { workspace: { id: string }; admin_key: string };
    expect(ws.admin_key).toMatch(KEY);
    const key = await runCli(['api-key', 'create', '--workspace', ws.workspace.id, '--json'], env);
    expect((JSON.parse(key.stdout) as { secret_key: string }).secret_key).toMatch(KEY);
    const human = await runCli(['workspace', 'list'], env);
    expect(human.stdout).toContain(ws.workspace.id);

    const downgraded = await runCli(['workspace', 'set-plan', '--workspace', ws.workspace.id, '--plan', 'free', '--json'], env);
    expect((JSON.parse(downgraded.stdout) as { workspace: { plan: string } }).workspace.plan).toBe('FREE');
    const usage = JSON.parse((await runCli(['workspace', 'usage', '--workspace', ws.workspace.id, '--json'], env)).stdout) as { usage: Record<string, unknown> };
    expect(usage.usage).toMatchObject({ plan: 'FREE', monthly_quota: 3000, used: 0, remaining: 3000 });
    const badPlan = await runCli(['workspace', 'set-plan', '--workspace', ws.workspace.id, '--plan', 'GOLD'], env);
    expect(badPlan.code).toBe(2);
    expect(badPlan.stderr).toContain('--plan must be one of FREE, LAUNCH, CUSTOM, ENTERPRISE, not "GOLD"');

    // without --plan a workspace gets DEFAULT_PLAN; an unknown --print field creates nothing
    const unknownField = await runCli(['workspace', 'create', '--name', 'Never', '--print', 'nope'], { ...env, DEFAULT_PLAN: 'launch' });
    expect(unknownField.code).toBe(2);
    const launch = await runCli(['workspace', 'create', '--name', 'Default', '--print', 'workspace.plan'], { ...env, DEFAULT_PLAN: 'launch' });
    expect([launch.code, launch.stdout]).toEqual([0, 'LAUNCH\n']);
    const names = (JSON.parse((await runCli(['workspace', 'list', '--json'], env)).stdout) as { workspaces: { name: string }[] }).workspaces.map((w) => w.name);
    expect(names.sort()).toEqual(['Default', 'PG']);
  });
});
