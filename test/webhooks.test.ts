import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMAIL_EVENT_MAP, WEBHOOK_EVENTS } from '../src/modules/webhooks/index.js';
import { uuidv7 } from '../src/platform/ids.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { TEST_SECRET_KEY } from './support/domains.js';
import { startWebhookReceiver, verifiesKeplars, verifyStandard, type WebhookReceiver } from './support/webhook-receiver.js';

type Scheme = 's1' | 's2' | 's3';
type Workspace = { id: string; adminKey: string; key: string };

describe.each(BACKENDS)('webhooks (%s)', (backend) => {
  let t: TestApp;
  let rx: WebhookReceiver;

  beforeAll(async () => {
    rx = await startWebhookReceiver();
    t = await startTestApp({
      backend,
      env: { SECRET_KEY: TEST_SECRET_KEY, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_RETRY_SCALE: '0.00005', WEBHOOK_POLL_MS: '50', WEBHOOK_ENDPOINT_CONCURRENCY: '2' },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await rx?.close();
  });

  const api = (ws: Workspace, path: string, body?: unknown, method?: string) =>
    call(`${t.url}/api/v1/webhooks${path}`, { key: ws.adminKey, ...(body !== undefined ? { body } : {}), ...(method ? { method } : {}) });
  async function addEndpoint(ws: Workspace, path: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
    const res = await api(ws, '', { url: `${rx.url}${path}`, events: ['*'], ...extra });
    expect(res.status, res.text).toBe(200);
    const data = res.body.data as { id: string; secret: string };
    return data;
  }
  async function sendEmail(ws: Workspace, to = 'ada@example.org'): Promise<string> {
    const sent = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to, subject: 'Hello', text: 'hi', metadata: { order: 42 } } });
    expect(sent.status, sent.text).toBe(200);
    return sent.body.id as string;
  }

  it('sends every event type, each verifying in its endpoint scheme and with the standardwebhooks package', async () => {
    const ws = await t.workspace();
    const endpoints = {} as Record<Scheme, { id: string; secret: string; path: string }>;
    for (const scheme of ['s1', 's2', 's3'] as const) {
      const path = `/all-${backend}-${scheme}`;
      endpoints[scheme] = { ...(await addEndpoint(ws, path, { signature_scheme: scheme })), path };
      expect(endpoints[scheme].secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    }
    // a real send: queued, then delivered by the capture transport (email.sent and email.delivered)
    const emailId = await sendEmail(ws);
    // the other state changes as their writers record them: rows in message_events, many in one statement
    const others = ['scheduled', 'cancelled', 'sent', 'deferred', 'bounced', 'failed', 'opened', 'clicked', 'complained', 'suppressed', 'unsubscribed', 'resubscribed', 'late', 'sender_unverified'] as const;
    await t.app.services.database.db
      .insertInto('message_events')
      .values(
        others.map((type) => ({
          message_id: emailId,
          type,
          recipient: 'ada@example.org',
          smtp_response: type === 'bounced' ? '550 5.1.1 no such user' : null,
          detail: JSON.stringify(type === 'clicked' ? { url: 'https://example.org/pricing' } : type === 'bounced' ? { bounce_type: 'hard' } : {}),
        })),
      )
      .execute();
    // scanners and image proxies are not sent
    await t.app.services.database.db
      .insertInto('message_events')
      .values([
        { message_id: emailId, type: 'opened', recipient: 'ada@example.org', detail: JSON.stringify({ bot: true }) },
        { message_id: emailId, type: 'clicked', recipient: 'ada@example.org', detail: JSON.stringify({ bot: true, url: 'https://example.org/x' }) },
      ])
      .execute();
    const domain = await t.app.services.domains.add(ws.id, { domain: `hooks-${backend}.example.com` });
    await t.app.services.database.db
      .insertInto('domain_events')
      .values([
        { domain_id: domain.id, type: 'domain.verified', detail: JSON.stringify({ previous: 'pending' }) },
        { domain_id: domain.id, type: 'domain.verification_failed', detail: JSON.stringify({ reason: 'records_disappeared' }) },
        { domain_id: domain.id, type: 'domain.dkim_rotation_started', detail: JSON.stringify({}) },
      ])
      .execute();
    const contact = (await t.app.services.contacts.add(ws.id, 'grace@example.org', { profile: { first_name: 'Grace' } })).contact;
    await t.app.services.contacts.delete(ws.id, { id: contact.id });

    const emailEvents = [...new Set(Object.values(EMAIL_EVENT_MAP).flat())];
    const expected = [...emailEvents, 'domain.created', 'domain.verified', 'domain.verification_failed', 'contact.created', 'contact.deleted'];
    for (const scheme of ['s1', 's2', 's3'] as const) {
      const { path, secret } = endpoints[scheme];
      await waitFor(async () => expected.every((e) => rx.at(path).some((h) => h.payload.event === e)), { what: `every event at ${scheme}`, timeoutMs: 20_000 });
      for (const hook of rx.at(path)) {
        expect(verifiesKeplars(hook, secret, scheme), `${scheme} ${hook.payload.event as string}`).toBe(true);
        for (const other of ['s1', 's2', 's3'] as const) if (other !== scheme) expect(verifiesKeplars(hook, secret, other)).toBe(false);
        expect(() => verifyStandard(hook, secret)).not.toThrow();
        expect(() => verifyStandard(hook, `whsec_${Buffer.from('another secret of 24 bytes').toString('base64')}`)).toThrow();
        expect(hook.headers['x-keplars-event']).toBe(hook.payload.event);
        expect(hook.headers['x-keplars-delivery']).toBe(hook.payload.id);
        expect(hook.headers['webhook-id']).toBe(hook.payload.id);
        expect(hook.headers['webhook-timestamp']).toBe(hook.headers['x-keplars-timestamp']);
        expect(hook.payload.type).toBe(hook.payload.event);
        expect(hook.payload.workspace_id).toBe(ws.id);
        expect(WEBHOOK_EVENTS).toContain(hook.payload.event);
      }
    }
    const hooks = rx.at(endpoints.s1.path);
    const one = (event: string) => hooks.filter((h) => h.payload.event === event);
    // the superset payload of §9, flat and under `data`
    const delivered = one('email.delivered')[0]!.payload;
    expect(delivered).toMatchObject({ email_id: emailId, job_id: emailId, to: ['ada@example.org'], recipient: 'ada@example.org', subject: 'Hello', metadata: { order: 42 } });
    expect(delivered.data).toMatchObject({ email_id: emailId, job_id: emailId, to: ['ada@example.org'], subject: 'Hello', metadata: { order: 42 } });
    for (const field of ['id', 'event', 'type', 'timestamp', 'workspace_id', 'email_id', 'job_id', 'to', 'recipient', 'subject', 'status', 'reason', 'bounce_reason', 'url', 'error', 'metadata', 'data']) {
      expect(delivered, field).toHaveProperty(field);
    }
    expect(one('email.bounced')[0]!.payload).toMatchObject({ bounce_reason: '550 5.1.1 no such user', bounce_type: 'hard', reason: '550 5.1.1 no such user' });
    expect(one('email.clicked')[0]!.payload.url).toBe('https://example.org/pricing');
    // the capture transport's delivered recipient gives sent and delivered; the relay-style `sent` row gives sent only
    expect(one('email.sent')).toHaveLength(2);
    expect(one('email.delivered')).toHaveLength(1);
    // bots, `late`, `sender_unverified` and internal domain events give nothing
    expect(one('email.opened')).toHaveLength(1);
    expect(one('email.clicked')).toHaveLength(1);
    expect(hooks.some((h) => String(h.payload.event).includes('dkim_rotation_started'))).toBe(false);
    expect(one('domain.verified')[0]!.payload.data).toMatchObject({ domain_id: domain.id, domain: `hooks-${backend}.example.com` });
    expect(one('contact.deleted')[0]!.payload).toMatchObject({ recipient: 'grace@example.org' });
    // nothing was left in the outbox
    await waitFor(async () => (await t.app.services.database.db.selectFrom('webhook_outbox').select('id').execute()).length === 0, { what: 'outbox drained' });
  }, 60_000);

  it('gives a workspace without endpoints no deliveries, and only subscribed events are delivered', async () => {
    const quiet = await t.workspace();
    const before = await t.app.services.database.db.selectFrom('webhook_deliveries').select('id').where('workspace_id', '=', quiet.id).execute();
    await sendEmail(quiet);
    await new Promise((r) => setTimeout(r, 300));
    const after = await t.app.services.database.db.selectFrom('webhook_deliveries').select('id').where('workspace_id', '=', quiet.id).execute();
    expect(after.length).toBe(before.length);

    const ws = await t.workspace();
    const path = `/only-bounced-${backend}`;
    await addEndpoint(ws, path, { events: ['email.bounced', 'email.bounced'] });
    const emailId = await sendEmail(ws);
    await t.app.services.database.db.insertInto('message_events').values({ message_id: emailId, type: 'bounced', recipient: 'ada@example.org', detail: JSON.stringify({}) }).execute();
    await waitFor(async () => rx.at(path).length >= 1, { what: 'the bounce' });
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.at(path).map((h) => h.payload.event)).toEqual(['email.bounced']);
  });

  it('retries on the scaled schedule with the same ids, shows each attempt, and replays with the same ids', async () => {
    const ws = await t.workspace();
    const path = `/flaky-${backend}`;
    rx.on(path, (_hook, nth) => (nth <= 2 ? { status: 503, body: `busy ${nth}` } : { status: 204 }));
    const { id } = await addEndpoint(ws, path, { events: ['email.queued'] });
    await sendEmail(ws);
    await waitFor(async () => rx.at(path).length >= 3, { what: 'three attempts' });
    const ids = new Set(rx.at(path).map((h) => h.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect(new Set(rx.at(path).map((h) => h.headers['x-keplars-delivery']))).toEqual(ids);
    const list = await waitFor(async () => {
      const r = await api(ws, `/${id}/deliveries`);
      const d = (r.body.data as { deliveries: { id: string; status: string; attempts: number; attempt_log: { status_code: number; body_excerpt: string; error: string | null }[] }[] }).deliveries;
      return d[0]?.status === 'delivered' ? d : null;
    }, { what: 'recorded as delivered' });
    expect(list).toHaveLength(1);
    expect(list[0]!.attempts).toBe(3);
    expect(list[0]!.attempt_log.map((a) => a.status_code)).toEqual([503, 503, 204]);
    expect(list[0]!.attempt_log[0]).toMatchObject({ body_excerpt: 'busy 1', error: 'answered 503' });
    expect(list[0]!.id).toBe([...ids][0]);

    const replay = await api(ws, `/${id}/deliveries/${list[0]!.id}/replay`, {});
    expect(replay.status, replay.text).toBe(200);
    await waitFor(async () => rx.at(path).length >= 4, { what: 'the replay' });
    const again = rx.at(path)[3]!;
    expect(again.headers['webhook-id']).toBe(list[0]!.id);
    expect(again.headers['x-keplars-delivery']).toBe(list[0]!.id);
    expect(again.body).toBe(rx.at(path)[0]!.body);
    // another delivery id: the last digit changed (to 1 when it is 0 already, which one time in 16 it is)
    const other = `${list[0]!.id.slice(0, -1)}${list[0]!.id.endsWith('0') ? '1' : '0'}`;
    expect((await api(ws, `/${id}/deliveries/${other}/replay`, {})).status).toBe(404);
    expect((await api(ws, `/${id}/deliveries/not-an-id/replay`, {})).status).toBe(404);
  });

  it('fails a delivery after the last retry and marks an endpoint that failed everything for 24 hours (scaled) failing', async () => {
    const ws = await t.workspace();
    const path = `/dead-${backend}`;
    rx.on(path, () => ({ status: 500, body: 'x'.repeat(5000) }));
    const { id } = await addEndpoint(ws, path, { events: ['email.queued'] });
    await sendEmail(ws);
    // 11 attempts over 24 h × 1 h … scaled by 0.00005: about 7 s
    const d = await waitFor(
      async () => {
        const r = await api(ws, `/${id}/deliveries`);
        const first = (r.body.data as { deliveries: { status: string; attempts: number; next_retry_at: string | null; attempt_log: { body_excerpt: string }[] }[] }).deliveries[0];
        return first?.status === 'failed' ? first : null;
      },
      { timeoutMs: 30_000, what: 'the delivery failed' },
    );
    expect(d.attempts).toBe(11);
    expect(d.next_retry_at).toBeNull();
    expect(d.attempt_log[0]!.body_excerpt.length).toBe(1024);
    expect(rx.at(path)).toHaveLength(11);
    const endpoint = (await api(ws, `/${id}`)).body.data as { status: string; failing_since: string | null };
    expect(endpoint.status).toBe('failing');
    expect(endpoint.failing_since).not.toBeNull();
    // the operator turns it back on: a clean record
    const on = (await api(ws, `/${id}`, { status: 'active' }, 'PATCH')).body.data as { status: string; failing_since: string | null };
    expect(on).toMatchObject({ status: 'active', failing_since: null });
  }, 40_000);

  it('holds a disabled endpoint\'s waiting deliveries out of the claims and sends them once it is active again', async () => {
    const ws = await t.workspace();
    const path = `/paused-${backend}`;
    const { id } = await addEndpoint(ws, path, { events: ['email.bounced'] });
    const db = t.app.services.database.db;
    // a delivery waiting for its next retry an hour from now
    const deliveryId = uuidv7();
    await db
      .insertInto('webhook_deliveries')
      .values({ id: deliveryId, endpoint_id: id, workspace_id: ws.id, event: 'email.bounced', payload: JSON.stringify({ id: deliveryId, event: 'email.bounced' }), next_attempt_at: new Date(Date.now() + 3600_000) })
      .execute();
    const due = async () => (await db.selectFrom('webhook_deliveries').select('next_attempt_at').where('id', '=', deliveryId).executeTakeFirstOrThrow()).next_attempt_at;
    expect((await api(ws, `/${id}`, { status: 'disabled' }, 'PATCH')).status).toBe(200);
    expect(await due()).toBeNull();
    expect((await api(ws, `/${id}`, { status: 'active' }, 'PATCH')).status).toBe(200);
    await waitFor(async () => rx.at(path).length >= 1, { what: 'the held delivery' });
    expect(rx.at(path)[0]!.headers['webhook-id']).toBe(deliveryId);
  });

  it('a slow endpoint does not delay another endpoint', async () => {
    const slowWs = await t.workspace();
    const fastWs = await t.workspace();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const slow = `/slow-${backend}`;
    const fast = `/fast-${backend}`;
    rx.on(slow, () => ({ status: 200, waitFor: released }));
    await addEndpoint(slowWs, slow, { events: ['email.queued'] });
    await addEndpoint(fastWs, fast, { events: ['email.queued'] });
    for (let i = 0; i < 8; i++) await sendEmail(slowWs);
    await waitFor(async () => rx.at(slow).length >= 2, { what: 'the slow endpoint holding its slots' });
    for (let i = 0; i < 5; i++) await sendEmail(fastWs);
    await waitFor(async () => rx.at(fast).length >= 5, { what: 'every event of the fast endpoint while the slow one hangs' });
    // WEBHOOK_ENDPOINT_CONCURRENCY=2: the slow endpoint never had more than two requests at once
    expect(rx.at(slow).length).toBe(2);
    // nor does it hold email delivery back
    const emailId = await sendEmail(slowWs);
    await waitFor(async () => (await call(`${t.url}/api/v1/public/emails/get-email?id=${emailId}`, { key: slowWs.key })).body.status === 'delivered', { what: 'the email delivered meanwhile' });
    expect(rx.at(slow).length).toBe(2);
    release();
    await waitFor(async () => rx.at(slow).length >= 9, { what: 'the slow endpoint catching up' });
  });

  it('manages endpoints: validation, masked secrets, changes, test events, tenant isolation', async () => {
    const ws = await t.workspace();
    const other = await t.workspace();
    const unknown = await api(ws, '', { url: `${rx.url}/x`, events: ['email.delivered', 'email.teleported'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: 'VALIDATION_ERROR' });
    expect(unknown.body.message).toContain('"email.teleported"');
    expect(unknown.body.message).toContain('email.delivered, ');
    expect((await api(ws, '', { url: `${rx.url}/x`, events: [] })).status).toBe(400);
    expect((await api(ws, '', { url: 'ftp://example.org/x', events: ['*'] })).body.message).toContain("Field 'url'");
    expect((await api(ws, '', { url: `${rx.url}/x`, events: ['*'], secret: 'short' })).body.message).toContain("Field 'secret'");
    expect((await api(ws, '', { url: `${rx.url}/x`, events: ['*'], signature_scheme: 's9' })).status).toBe(400);

    const path = `/crud-${backend}`;
    const created = await api(ws, '', { url: `${rx.url}${path}`, events: ['*'], secret: 'my-own-secret-0123456789', signature_scheme: 's2', description: 'mine' });
    expect(created.status).toBe(200);
    const data = created.body.data as { id: string; secret: string; status: string };
    expect(data).toMatchObject({ secret: 'my-own-secret-0123456789', status: 'active', signature_scheme: 's2', description: 'mine', events: ['*'] });
    const got = (await api(ws, `/${data.id}`)).body.data as { secret: string };
    expect(got.secret).toBe('…6789');
    expect(((await api(ws, '')).body.data as { id: string }[]).map((e) => e.id)).toEqual([data.id]);

    // tenant isolation: another workspace sees nothing and changes nothing
    const foreign = (p: string, body?: unknown, method?: string) => call(`${t.url}/api/v1/webhooks${p}`, { key: other.adminKey, ...(body !== undefined ? { body } : {}), ...(method ? { method } : {}) });
    expect((await foreign(`/${data.id}`)).status).toBe(404);
    expect((await foreign(`/${data.id}`, { status: 'disabled' }, 'PATCH')).status).toBe(404);
    expect((await foreign(`/${data.id}/test`, {})).status).toBe(404);
    expect((await foreign(`/${data.id}/deliveries`)).status).toBe(404);
    expect((await foreign(`/${data.id}`, undefined, 'DELETE')).status).toBe(404);
    expect((await foreign('')).body.data).toEqual([]);
    // a sending key may not manage webhooks
    expect((await call(`${t.url}/api/v1/webhooks`, { key: ws.key })).status).toBe(403);

    // the test event: the receiver's status and latency, signed with the endpoint's scheme
    rx.on(path, () => ({ status: 202, body: 'accepted' }));
    const test = await api(ws, `/${data.id}/test`, {});
    expect(test.status).toBe(200);
    expect(test.body.data).toMatchObject({ success: true, status_code: 202, body_excerpt: 'accepted', event: 'email.delivered', error: null });
    const hook = rx.at(path).at(-1)!;
    expect(verifiesKeplars(hook, 'my-own-secret-0123456789', 's2')).toBe(true);
    // a secret not in the whsec_ form is the Standard Webhooks key as its bytes
    const { Webhook } = await import('standardwebhooks');
    expect(() => new Webhook('my-own-secret-0123456789', { format: 'raw' }).verify(hook.body, hook.headers as Record<string, string>)).not.toThrow();

    const patched = await api(ws, `/${data.id}`, { events: ['email.bounced'], signature_scheme: 's3', status: 'disabled' }, 'PATCH');
    expect(patched.body.data).toMatchObject({ events: ['email.bounced'], signature_scheme: 's3', status: 'disabled', secret: '…6789' });
    expect((await api(ws, `/${data.id}`, { events: ['nope'] }, 'PATCH')).status).toBe(400);
    // a disabled endpoint gets nothing
    const emailId = await sendEmail(ws);
    await t.app.services.database.db.insertInto('message_events').values({ message_id: emailId, type: 'bounced', recipient: 'ada@example.org', detail: JSON.stringify({}) }).execute();
    const seen = rx.at(path).length;
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.at(path).length).toBe(seen);

    expect((await api(ws, `/${data.id}`, undefined, 'DELETE')).status).toBe(200);
    expect((await api(ws, `/${data.id}`)).status).toBe(404);
    expect((await api(ws, `/${data.id}`, undefined, 'DELETE')).status).toBe(404);
    expect((await api(ws, '/not-a-uuid')).status).toBe(404);
  });
});
