import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { TEST_SECRET_KEY } from './support/domains.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/** The SSRF guard with WEBHOOK_ALLOW_PRIVATE_TARGETS off (the default), and redirects with it on. */
describe.each(BACKENDS)('webhook targets (%s)', (backend) => {
  let guarded: TestApp;
  let dns: TestDnsServer;
  let rx: WebhookReceiver;

  beforeAll(async () => {
    dns = await startDnsServer();
    rx = await startWebhookReceiver();
    guarded = await startTestApp({ backend, env: { SECRET_KEY: TEST_SECRET_KEY, DNS_SERVERS: dns.server, WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_SCALE: '0.00005' } });
  }, 60_000);
  afterAll(async () => {
    await guarded?.close();
    await dns?.close();
    await rx?.close();
  });

  const create = (key: string, url: string) => call(`${guarded.url}/api/v1/webhooks`, { key, body: { url, events: ['*'] } });

  it('refuses loopback, private, link-local, metadata, unique-local and unspecified targets at creation', async () => {
    const ws = await guarded.workspace();
    dns.set(`loop-${backend}.example.net`, 'A', ['127.0.0.1']);
    dns.set(`mixed-${backend}.example.net`, 'A', ['93.184.216.34', '10.1.2.3']);
    dns.set(`six-${backend}.example.net`, 'AAAA', ['fd12:3456::1']);
    const refused = [
      [`${rx.url}/hook`, '127.0.0.1, a loopback address'],
      ['http://10.0.0.5/hook', 'a private (RFC 1918) address'],
      ['http://192.168.1.1/hook', 'a private'],
      ['http://169.254.169.254/latest/meta-data', 'a link-local address'],
      ['http://[::1]/hook', 'loopback'],
      ['http://[fd00::1]/hook', 'unique-local'],
      ['http://0.0.0.0/hook', 'unspecified'],
      ['http://[::ffff:127.0.0.1]/hook', 'loopback'],
      [`http://loop-${backend}.example.net:${rx.port}/hook`, `loop-${backend}.example.net resolves to 127.0.0.1, a loopback address`],
      [`https://mixed-${backend}.example.net/hook`, '10.1.2.3, a private'],
      [`https://six-${backend}.example.net/hook`, 'unique-local'],
      [`https://nowhere-${backend}.example.net/hook`, 'has no address'],
    ] as const;
    for (const [url, reason] of refused) {
      const res = await create(ws.adminKey, url);
      expect(res.status, url).toBe(400);
      expect(res.body.error).toBe('VALIDATION_ERROR');
      expect(res.body.message, url).toContain("Field 'url'");
      expect(res.body.message, url).toContain(reason);
    }
    expect(rx.received).toHaveLength(0);
  });

  it('checks again at every delivery: a name that turned to 127.0.0.1 gets a failed attempt with the reason, and no request', async () => {
    const ws = await guarded.workspace();
    const host = `turns-${backend}.example.net`;
    dns.set(host, 'A', ['93.184.216.34']);
    const created = await create(ws.adminKey, `http://${host}:${rx.port}/turned`);
    expect(created.status, created.text).toBe(200);
    const id = (created.body.data as { id: string }).id;
    dns.set(host, 'A', ['127.0.0.1']);
    const test = await call(`${guarded.url}/api/v1/webhooks/${id}/test`, { key: ws.adminKey, body: {} });
    expect(test.body.data).toMatchObject({ success: false, status_code: null });
    expect((test.body.data as { error: string }).error).toContain('resolves to 127.0.0.1, a loopback address');
    // an event's delivery: the attempt is recorded as failed with the reason
    const sent = await call(`${guarded.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'ada@example.org', subject: 'x', text: 'y' } });
    expect(sent.status).toBe(200);
    const delivery = await waitFor(async () => {
      const r = await call(`${guarded.url}/api/v1/webhooks/${id}/deliveries`, { key: ws.adminKey });
      const d = (r.body.data as { deliveries: { attempt_log: { error: string | null; status_code: number | null }[] }[] }).deliveries[0];
      return d && d.attempt_log.length > 0 ? d : null;
    }, { what: 'a refused attempt' });
    expect(delivery.attempt_log[0]!.status_code).toBeNull();
    expect(delivery.attempt_log[0]!.error).toContain('resolves to 127.0.0.1');
    expect(rx.at('/turned')).toHaveLength(0);
  });

  it('does not follow a redirect: a 3xx is a failed attempt and the target is never asked', async () => {
    const open = await startTestApp({ backend, env: { SECRET_KEY: TEST_SECRET_KEY, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_SCALE: '0.00005' } });
    try {
      const ws = await open.workspace();
      rx.on('/moved', () => ({ status: 307, headers: { location: `${rx.url}/redirect-target` } }));
      const created = await call(`${open.url}/api/v1/webhooks`, { key: ws.adminKey, body: { url: `${rx.url}/moved`, events: ['email.queued'] } });
      expect(created.status, created.text).toBe(200);
      const id = (created.body.data as { id: string }).id;
      const test = await call(`${open.url}/api/v1/webhooks/${id}/test`, { key: ws.adminKey, body: {} });
      expect(test.body.data).toMatchObject({ success: false, status_code: 307 });
      await call(`${open.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'ada@example.org', subject: 'x', text: 'y' } });
      const delivery = await waitFor(async () => {
        const r = await call(`${open.url}/api/v1/webhooks/${id}/deliveries`, { key: ws.adminKey });
        const d = (r.body.data as { deliveries: { status: string; attempt_log: { error: string | null; status_code: number | null }[] }[] }).deliveries[0];
        return d && d.attempt_log.length > 0 ? d : null;
      }, { what: 'the redirected attempt' });
      expect(delivery.attempt_log[0]).toMatchObject({ status_code: 307, error: 'answered 307 (redirects are not followed)' });
      expect(rx.at('/redirect-target')).toHaveLength(0);
    } finally {
      await open.close();
    }
  });
});
