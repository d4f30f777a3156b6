import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/app.js';
import { createPostgresDatabase, type TestPostgres } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { publish, receiverVerdict, type ApiDomain } from './support/domains.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';
import { initialisedDataDir } from './support/data-dirs.js';

/** These run the built CLI and server (dist/), so they also prove DKIM signing on worker threads. */
describe('domain commands and signed delivery from the built server', () => {
  let dataDir: string;
  let dns: TestDnsServer;
  let sink: SmtpSink;
  const servers: ServerProcess[] = [];
  const env = () => ({ DATA_DIR: dataDir, PORT: '0', DNS_SERVERS: dns.server, BOUNCE_HOST: 'bounce.keplars.test', SMTP_URL: `smtp://127.0.0.1:${sink.port}` });

  beforeAll(async () => {
    dataDir = await initialisedDataDir('keplars-domains-');
    dns = await startDnsServer();
    sink = await startSmtpSink();
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop('SIGKILL');
  });
  afterAll(async () => {
    await sink?.close();
    await dns?.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('adds, lists and verifies domains; the embedded server key is made once, owner-only', async () => {
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Domains', '--json'], env())).stdout) as { workspace: { id: string } };
    const added = await runCli(['domain', 'add', '--workspace', ws.workspace.id, '--domain', 'cli.test', '--region', 'ap-southeast-1', '--json'], env());
    expect(added.code, added.stderr).toBe(0);
    const domain = (JSON.parse(added.stdout) as { domain: ApiDomain }).domain;
    expect(domain).toMatchObject({ domain: 'cli.test', region: 'ap-southeast-1', verification_status: 'pending' });
    const secret = await fs.stat(path.join(dataDir, 'secret.key'));
    expect(secret.mode & 0o777).toBe(0o600);

    const human = await runCli(['domain', 'verify', '--workspace', ws.workspace.id, '--domain', 'cli.test'], env());
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('cli.test  pending');
    expect(human.stdout).toContain('keplars._domainkey.cli.test');
    expect(human.stdout).toContain('why: No TXT record found');

    publish(dns, domain.dns_records);
    const verified = await runCli(['domain', 'verify', '--workspace', ws.workspace.id, '--domain', domain.id, '--json'], env());
    expect((JSON.parse(verified.stdout) as { domain: ApiDomain }).domain.verification_status).toBe('verified');
    const list = await runCli(['domain', 'list', '--workspace', ws.workspace.id], env());
    expect(list.stdout).toContain('cli.test  verified');

    const missing = await runCli(['domain', 'add', '--workspace', ws.workspace.id], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('keplars-server domain add: --domain is required. Try: keplars-server domain add --workspace <id> --domain <domain>\n');
  });

  it('signs on worker threads in the built server, and the CLI works through the running server', async () => {
    const keyBefore = await fs.readFile(path.join(dataDir, 'secret.key'), 'utf8');
    const server = await startServerProcess('start', { ...env(), DKIM_SIGNING_THREADS: '2' });
    servers.push(server);
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Live domains', '--plan', 'ENTERPRISE', '--json'], env())).stdout) as { workspace: { id: string }; admin_key: string };
    const added = JSON.parse((await runCli(['domain', 'add', '--workspace', ws.workspace.id, '--domain', 'live.test', '--json'], env())).stdout) as { domain: ApiDomain };
    publish(dns, added.domain.dns_records);
    const verified = await runCli(['domain', 'verify', '--workspace', ws.workspace.id, '--domain', 'live.test', '--json'], env());
    expect((JSON.parse(verified.stdout) as { domain: ApiDomain }).domain.verification_status).toBe('verified');

    const created = await call(`${server.url}/api/v1/public/domains/api-keys/create`, { key: ws.admin_key, body: { domain_id: added.domain.id, name: 'live' } });
    const key = (created.body.data as { secret_key: string }).secret_key;
    sink.messages.length = 0;
    const sends = await Promise.all(
      Array.from({ length: 12 }, (_, i) => call(`${server.url}/api/v1/send-email/async`, { key, body: { to: `r${i}@example.org`, from: 'hello@live.test', subject: `threaded ${i}`, body: 'signed on a worker thread' } })),
    );
    for (const s of sends) expect(s.status, s.text).toBe(200);
    const received = await sink.waitFor(12, 20_000);
    for (const msg of received) {
      const verdict = await receiverVerdict(dns, msg.raw, msg.from);
      expect(verdict.dkim.results[0]!.status.result).toBe('pass');
      expect(verdict.spf && verdict.spf.status.result).toBe('pass');
    }
    expect(await fs.readFile(path.join(dataDir, 'secret.key'), 'utf8')).toBe(keyBefore);
  });
});

describe('domain commands on PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await createPostgresDatabase();
  });
  afterAll(() => pg?.drop());

  it('refuses to create DKIM keys without SECRET_KEY, and works with it', async () => {
    const env = { DATABASE_URL: pg.url, DNS_SERVERS: '127.0.0.1:9' };
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'PG domains', '--json'], env)).stdout) as { workspace: { id: string } };
    const refused = await runCli(['domain', 'add', '--workspace', ws.workspace.id, '--domain', 'pg.test'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Custom domains need SECRET_KEY');
    const added = await runCli(['domain', 'add', '--workspace', ws.workspace.id, '--domain', 'pg.test', '--json'], { ...env, SECRET_KEY: 'c4'.repeat(32) });
    expect(added.code, added.stderr).toBe(0);
    const list = JSON.parse((await runCli(['domain', 'list', '--workspace', ws.workspace.id, '--json'], env)).stdout) as { domains: ApiDomain[] };
    expect(list.domains.map((d) => d.domain)).toEqual(['pg.test']);
  });
});
