import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/app.js';
import { createPostgresDatabase, type TestPostgres } from './support/databases.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';

describe('secrets never reach the output of the CLI or the server', () => {
  let pg: TestPostgres;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    pg = await createPostgresDatabase();
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop('SIGKILL');
  });
  afterAll(() => pg?.drop());

  it('a bad configuration value is named with its password hidden', async () => {
    const res = await runCli(['workspace', 'list'], {
      DATABASE_URL: 'postgres://keplars:db-Secret-pw@[::1/keplars',
      SMTP_URL: 'smtps//relay-user:smtp-Secret-pw@relay.example:465',
      SECRET_KEY: 'server-Secret-text-too-short',
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Invalid configuration');
    expect(res.stderr).toContain('DATABASE_URL="postgres://keplars:***@[::1/keplars"');
    // a URL mistyped without "://" keeps nothing of what precedes its host
    expect(res.stderr).toContain('SMTP_URL="***@relay.example:465"');
    expect(res.stderr).toContain('SECRET_KEY: must be 32 random bytes');
    for (const secret of ['db-Secret-pw', 'smtp-Secret-pw', 'server-Secret-text']) expect(res.stderr).not.toContain(secret);
  });

  it('a PostgreSQL that cannot be reached is reported without the password', async () => {
    const res = await runCli(['start'], { DATABASE_URL: 'postgres://keplars:db-Secret-pw@127.0.0.1:1/keplars', PORT: '0' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('ECONNREFUSED');
    expect(res.stderr).not.toContain('db-Secret-pw');
  });

  it('a server started with a password in DATABASE_URL never logs it', async () => {
    const url = new URL(pg.url);
    if (!url.password) url.password = 'db-Secret-pw'; // the test PostgreSQL trusts local connections, any password is accepted
    const password = decodeURIComponent(url.password);
    const server = await startServerProcess('start', { DATABASE_URL: url.toString(), PORT: '0', LOG_LEVEL: 'trace' });
    servers.push(server);
    expect((await call(`${server.url}/health`)).status).toBe(200);
    expect((await call(`${server.url}/api/v1/emails`, { key: 'kms_00.live_00' })).status).toBe(401);
    await server.stop('SIGTERM');
    expect(server.output()).toContain('keplars-server ready');
    expect(server.output()).not.toContain(password);
  });
});
