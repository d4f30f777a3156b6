import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitFor } from './support/app.js';
import { createPostgresDatabase, type TestPostgres } from './support/databases.js';
import { TEST_SECRET_KEY } from './support/domains.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';
import { startWebhookReceiver, verifiesKeplars, verifyStandard, type WebhookReceiver } from './support/webhook-receiver.js';

/** The built server and CLI (dist/) on one PostgreSQL: a worker SIGKILLed while webhooks are in flight loses none. */
describe('webhooks across a worker crash', () => {
  let pg: TestPostgres;
  let rx: WebhookReceiver;
  let env: Record<string, string>;
  const procs: ServerProcess[] = [];

  beforeAll(async () => {
    pg = await createPostgresDatabase();
    rx = await startWebhookReceiver();
    env = { DATABASE_URL: pg.url, PORT: '0', SECRET_KEY: TEST_SECRET_KEY, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_RETRY_SCALE: '0.0001', DELIVERY_LEASE_MS: '2000' };
    expect((await runCli(['migrate'], env)).code).toBe(0);
  });
  afterAll(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await rx?.close();
    await pg?.drop();
  });

  it('every event arrives, signed, after the worker is killed mid-stream and another one starts', async () => {
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Crash', '--plan', 'ENTERPRISE', '--json'], env)).stdout) as { workspace: { id: string }; secret_key: string };
    const added = await runCli(['webhook', 'add', '--workspace', ws.workspace.id, '--url', `${rx.url}/crash`, '--events', 'email.queued,email.delivered', '--scheme', 's3', '--json'], env);
    expect(added.code, added.stderr).toBe(0);
    const secret = (JSON.parse(added.stdout) as { webhook: { secret: string } }).webhook.secret;
    const listed = await runCli(['webhook', 'list', '--workspace', ws.workspace.id], env);
    expect(listed.stdout).toContain(`active    s3  ${rx.url}/crash  [email.queued,email.delivered]`);

    // slow answers, so the kill lands while requests are in flight (emails the dead worker held come back after DELIVERY_LEASE_MS)
    rx.on('/crash', () => ({ status: 200, waitFor: new Promise((r) => setTimeout(r, 30)) }));
    const api = await startServerProcess('api', env);
    procs.push(api);
    const worker = await startServerProcess('worker', env);
    procs.push(worker);
    const ids: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(`${api.url}/api/v1/send-email/async`, { key: ws.secret_key, body: { to: `r${batch}-${i}@example.test`, subject: 'crash', text: 'x' } })));
      for (const r of results) {
        expect(r.status).toBe(200);
        ids.push(r.body.id as string);
      }
    }
    await waitFor(async () => rx.at('/crash').length >= 30, { what: 'some webhooks before the kill', timeoutMs: 30_000 });
    await worker.stop('SIGKILL');
    expect(new Set(rx.at('/crash').map((h) => `${h.payload.email_id as string}:${h.payload.event as string}`)).size).toBeLessThan(ids.length * 2);

    rx.on('/crash', () => ({ status: 200 }));
    procs.push(await startServerProcess('worker', env));
    const expected = ids.flatMap((id) => [`${id}:email.queued`, `${id}:email.delivered`]);
    await waitFor(
      async () => {
        const got = new Set(rx.at('/crash').map((h) => `${h.payload.email_id as string}:${h.payload.event as string}`));
        return expected.every((e) => got.has(e));
      },
      { timeoutMs: 60_000, what: 'every event delivered' },
    ).catch((err: unknown) => {
      const got = new Set(rx.at('/crash').map((h) => `${h.payload.email_id as string}:${h.payload.event as string}`));
      const missing = expected.filter((e) => !got.has(e)).length;
      throw new Error(`${(err as Error).message}: ${missing} missing of ${expected.length}; server output:\n${procs.map((p) => p.output().slice(-3000)).join('\n----\n')}`);
    });
    for (const hook of rx.at('/crash')) {
      expect(verifiesKeplars(hook, secret, 's3')).toBe(true);
      expect(() => verifyStandard(hook, secret)).not.toThrow();
    }
    // a retry of an interrupted request carries the same webhook-id, so a receiver can drop the repeat
    const byId = new Map<string, string>();
    for (const hook of rx.at('/crash')) {
      const key = `${hook.payload.email_id as string}:${hook.payload.event as string}`;
      expect(byId.get(String(hook.headers['webhook-id'])) ?? key).toBe(key);
      byId.set(String(hook.headers['webhook-id']), key);
    }
    expect(new Set(byId.values()).size).toBe(expected.length);
  }, 120_000);
});
