import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordAsyncOutcome } from '../src/modules/delivery/index.js';
import { SOFT_BOUNCE_LIMIT } from '../src/modules/suppressions/index.js';
import { classifyBounce, enhancedStatusOf } from '../src/platform/mail/bounce-class.js';
import { runAdminCommand } from '../src/app/admin-commands.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

/** The README's table ("Bounces and the suppression list"), one row each: reply code, text, the class it gives. */
const CLASS_TABLE: [number | null, string, string][] = [
  [550, '550 5.1.1 <a@example.test>: Recipient address rejected: User unknown', 'hard'],
  [550, '550 5.1.2 bad destination system address', 'hard'],
  [553, '553 5.1.3 bad destination mailbox address syntax', 'hard'],
  [550, '550 5.1.6 mailbox has moved', 'hard'],
  [556, '556 5.1.10 recipient address has null MX', 'hard'],
  [550, '550 5.2.1 mailbox disabled, not accepting messages', 'hard'],
  [550, '550 5.4.4 unable to route', 'hard'],
  [552, '552 5.2.2 mailbox full', 'soft'],
  [452, '452 4.2.2 over quota (gave up after 3 attempts)', 'soft'],
  [451, '451 4.3.0 temporary failure (gave up after 3 attempts)', 'soft'],
  [550, '550 5.7.1 message rejected by policy', 'block'],
  [550, '550 5.7.26 unauthenticated email from example.test is not accepted due to its DMARC policy', 'block'],
  [421, '421 4.7.0 try again later, sender reputation', 'block'],
  [553, '553 5.1.8 sender address domain does not exist', 'block'],
  [550, '550-5.1.1 The email account that you tried to reach does not exist.', 'hard'],
  [550, '550 no such user here', 'hard'],
  [null, 'domain nowhere.test does not exist (NXDOMAIN)', 'hard'],
  [null, 'domain example.test accepts no mail (null MX, RFC 7505)', 'hard'],
  [552, '552 sorry, the mailbox is full', 'soft'],
  [550, '550 rejected as spam', 'block'],
  [451, '451 please retry (gave up after 3 attempts)', 'soft'],
  [554, '554 transaction failed', 'undetermined'],
  [null, 'connect ECONNREFUSED 127.0.0.1:25 (gave up after 3 attempts)', 'undetermined'],
];

describe('bounce classes (RFC 3463)', () => {
  it.each(CLASS_TABLE)('%s %s → %s', (code, text, expected) => {
    expect(classifyBounce({ code, text }).bounceClass).toBe(expected);
  });

  it('takes a DSN status over the text, and reads the enhanced code only where a reply puts it', () => {
    expect(classifyBounce({ code: null, status: '5.1.1', text: 'mailbox full' }).bounceClass).toBe('hard');
    expect(enhancedStatusOf('550 5.1.1 <x@y>: no')).toBe('5.1.1');
    expect(enhancedStatusOf('550 version 15.1.10.2 of our server')).toBeNull();
    expect(enhancedStatusOf('550 no code here')).toBeNull();
  });

  it('reads a hostile answer in bounded, linear time', () => {
    const hostile = `550 ${'5.'.repeat(200_000)}${'a '.repeat(200_000)}`;
    const started = performance.now();
    for (let i = 0; i < 20; i++) classifyBounce({ code: 550, text: hostile });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

type Recipient = { email: string; status: string; bounce_type: string | null; bounce_reason: string | null };
type EmailData = { status: string; bounce_type: string | null; bounce_reason: string | null; recipients: Recipient[]; events: { type: string; recipient: string | null; detail: Record<string, unknown> | null }[] };

describe.each(BACKENDS)('bounces and the suppression list through a real SMTP relay on %s', (backend) => {
  let t: TestApp;
  let sink: SmtpSink;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({ backend, env: { SMTP_URL: `smtp://127.0.0.1:${sink.port}`, DEFAULT_FROM: 'shop@example.test' } });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });
  beforeEach(() => {
    sink.messages.length = 0;
    sink.setFailure(null);
  });

  const send = async (to: string[], key = ws.key) => {
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key, body: { to, subject: 'hello', text: 'hi' } });
    expect(res.status, res.text).toBe(200);
    return res.body.id as string;
  };
  const settled = (id: string, key = ws.key) =>
    waitFor(async () => {
      const r = await call(`${t.url}/api/v1/emails/${id}`, { key });
      const data = r.body.data as EmailData;
      return ['queued', 'sending', 'deferred'].includes(data.status) ? null : data;
    }, { what: `email ${id} settled` });
  const suppressions = (query = '', key = ws.adminKey) => call(`${t.url}/api/v1/suppressions${query}`, { key });
  const listed = async (email: string, key = ws.adminKey) => (((await suppressions(`?email=${encodeURIComponent(email)}`, key)).body.data as { suppressions: { reason: string; scope: string; source_email_id: string | null }[] }).suppressions);
  const contact = async (email: string) => (await call(`${t.url}/api/v1/public/contacts/get-contact?email=${encodeURIComponent(email)}`, { key: ws.adminKey })).body.data as { status: string; blocked_reason: string | null };

  it('a hard bounce is classified, shown, suppresses the address and blocks its contact; the next send skips it until reactivated', async () => {
    await call(`${t.url}/api/v1/public/contacts/add-contact`, { key: ws.adminKey, body: { email: 'Gone@Example.test' } });
    sink.setFailure((rcpt) => (rcpt === 'gone@example.test' ? { code: 550, message: '5.1.1 <gone@example.test>: Recipient address rejected: User unknown' } : null));
    const first = await settled(await send(['gone@example.test', 'here@example.test']));
    expect(first.status).toBe('sent');
    expect(first.recipients[0]).toMatchObject({ email: 'gone@example.test', status: 'bounced', bounce_type: 'hard' });
    expect(first.recipients[0]!.bounce_reason).toContain('5.1.1');
    expect(first.recipients[1]).toMatchObject({ status: 'sent', bounce_type: null, bounce_reason: null });
    expect(first.bounce_type).toBe('hard');
    expect(first.bounce_reason).toContain('User unknown');
    const bounced = first.events.find((e) => e.type === 'bounced' && e.recipient === 'gone@example.test')!;
    expect(bounced.detail).toMatchObject({ bounce_type: 'hard', code: '5.1.1' });
    expect(bounced.detail!.bounce_reason).toContain('User unknown');
    expect(await listed('GONE@example.test')).toEqual([expect.objectContaining({ reason: 'hard_bounce', scope: 'all' })]);
    expect(await contact('gone@example.test')).toMatchObject({ status: 'blocked', blocked_reason: 'hard_bounce' });

    // the relay would take it now, but the address is on the list: not attempted, the other recipient goes out
    sink.setFailure(null);
    sink.messages.length = 0;
    const second = await settled(await send(['gone@example.test', 'other@example.test']));
    expect(second.recipients.map((r) => r.status)).toEqual(['suppressed', 'sent']);
    expect(second.events.some((e) => e.type === 'suppressed' && e.recipient === 'gone@example.test')).toBe(true);
    expect(sink.messages.flatMap((m) => m.to)).toEqual(['other@example.test']);

    const removed = await call(`${t.url}/api/v1/suppressions/${encodeURIComponent('Gone@example.test')}`, { method: 'DELETE', key: ws.adminKey });
    expect(removed.status, removed.text).toBe(200);
    expect((removed.body.data as { removed: { reason: string }[] }).removed).toEqual([expect.objectContaining({ reason: 'hard_bounce' })]);
    expect(await contact('gone@example.test')).toMatchObject({ status: 'subscribed', blocked_reason: null });
    sink.messages.length = 0;
    const third = await settled(await send(['gone@example.test']));
    expect(third.status).toBe('sent');
    expect(sink.messages.flatMap((m) => m.to)).toEqual(['gone@example.test']);
  });

  it(`soft bounces suppress at ${SOFT_BOUNCE_LIMIT} in a row; a delivery in between starts the count again`, async () => {
    sink.setFailure((rcpt) => (rcpt.startsWith('full') ? { code: 552, message: '5.2.2 mailbox full' } : null));
    for (let i = 1; i <= SOFT_BOUNCE_LIMIT; i++) {
      const email = await settled(await send(['full@example.test']));
      expect(email.recipients[0]).toMatchObject({ status: 'bounced', bounce_type: 'soft' });
      expect(await listed('full@example.test')).toHaveLength(i < SOFT_BOUNCE_LIMIT ? 0 : 1);
    }
    expect((await listed('full@example.test'))[0]).toMatchObject({ reason: 'soft_bounce', scope: 'all' });

    for (let i = 1; i < SOFT_BOUNCE_LIMIT; i++) await settled(await send(['full2@example.test']));
    sink.setFailure(null);
    expect((await settled(await send(['full2@example.test']))).status).toBe('sent');
    sink.setFailure((rcpt) => (rcpt.startsWith('full') ? { code: 552, message: '5.2.2 mailbox full' } : null));
    await settled(await send(['full2@example.test']));
    expect(await listed('full2@example.test')).toEqual([]);
  });

  it('a block (policy, reputation) and an undetermined refusal do not suppress the address', async () => {
    sink.setFailure((rcpt) =>
      rcpt === 'policy@example.test' ? { code: 550, message: '5.7.1 message rejected by policy' } : rcpt === 'odd@example.test' ? { code: 554, message: 'transaction failed' } : null,
    );
    const email = await settled(await send(['policy@example.test', 'odd@example.test']));
    expect(email.recipients.map((r) => [r.status, r.bounce_type])).toEqual([
      ['bounced', 'block'],
      ['bounced', 'undetermined'],
    ]);
    expect(email.status).toBe('bounced');
    expect(await listed('policy@example.test')).toEqual([]);
    expect(await listed('odd@example.test')).toEqual([]);
  });

  it('recordAsyncOutcome: a later complaint suppresses and blocks the contact; a later DSN bounces a sent recipient, once', async () => {
    const db = t.app.services.database.db;
    await call(`${t.url}/api/v1/public/contacts/add-contact`, { key: ws.adminKey, body: { email: 'Annoyed@Example.test' } });
    const id = await send(['annoyed@example.test', 'later@example.test']);
    expect((await settled(id)).status).toBe('sent');

    expect(await recordAsyncOutcome(db, { emailId: id, recipient: 'ANNOYED@example.test', kind: 'complained', bounceClass: null, reason: 'abuse' })).toEqual({ matched: true, recorded: true, suppressed: true });
    expect(await recordAsyncOutcome(db, { emailId: id, recipient: 'annoyed@example.test', kind: 'complained', bounceClass: null, reason: 'abuse' })).toEqual({ matched: true, recorded: false, suppressed: false });
    expect(await listed('annoyed@example.test')).toEqual([expect.objectContaining({ reason: 'complaint', scope: 'all', source_email_id: id })]);
    expect(await contact('annoyed@example.test')).toMatchObject({ status: 'blocked', blocked_reason: 'complaint' });

    const dsn = { emailId: id, recipient: 'later@example.test', kind: 'bounced', bounceClass: null, reason: 'smtp; 550 5.1.1 user unknown', code: '5.1.1' } as const;
    expect(await recordAsyncOutcome(db, dsn)).toEqual({ matched: true, recorded: true, suppressed: true });
    expect(await recordAsyncOutcome(db, dsn)).toEqual({ matched: true, recorded: false, suppressed: false });
    expect(await recordAsyncOutcome(db, { ...dsn, recipient: 'stranger@example.test' })).toMatchObject({ matched: false });
    expect(await recordAsyncOutcome(db, { ...dsn, emailId: 'msg_nope' })).toMatchObject({ matched: false });
    const email = (await call(`${t.url}/api/v1/emails/${id}`, { key: ws.key })).body.data as EmailData;
    // the complained recipient keeps its status: the email is still `sent`
    expect(email.recipients.map((r) => [r.status, r.bounce_type])).toEqual([
      ['sent', null],
      ['bounced', 'hard'],
    ]);
    expect(email.status).toBe('sent');
    expect(email.events.filter((e) => e.type === 'complained')).toHaveLength(1);
    expect(email.events.filter((e) => e.type === 'bounced')).toEqual([expect.objectContaining({ recipient: 'later@example.test', detail: expect.objectContaining({ bounce_type: 'hard', code: '5.1.1', async: true }) })]);

    // an email whose one recipient bounces later becomes `bounced`
    const lone = await send(['alone@example.test']);
    await settled(lone);
    await recordAsyncOutcome(db, { emailId: lone, recipient: 'alone@example.test', kind: 'bounced', bounceClass: 'soft', reason: 'mailbox full' });
    expect(((await call(`${t.url}/api/v1/emails/${lone}`, { key: ws.key })).body.data as EmailData)).toMatchObject({ status: 'bounced', bounce_type: 'soft' });
    expect(await listed('alone@example.test')).toEqual([]);
  });

  it('the simulator addresses answer for themselves and never reach the relay', async () => {
    const w = await t.workspace();
    const to = ['delivered@simulator.invalid', 'bounced@simulator.invalid', 'soft-bounced@simulator.invalid', 'complained@simulator.invalid', 'suppressed@simulator.invalid', 'real@example.test'];
    const id = await send(to, w.key);
    const email = await settled(id, w.key);
    expect(email.recipients.map((r) => [r.email, r.status, r.bounce_type])).toEqual([
      ['delivered@simulator.invalid', 'sent', null],
      ['bounced@simulator.invalid', 'bounced', 'hard'],
      ['soft-bounced@simulator.invalid', 'bounced', 'soft'],
      ['complained@simulator.invalid', 'sent', null],
      ['suppressed@simulator.invalid', 'suppressed', null],
      ['real@example.test', 'sent', null],
    ]);
    expect(sink.messages.flatMap((m) => m.to)).toEqual(['real@example.test']);
    expect(email.events.some((e) => e.type === 'suppressed' && e.recipient === 'suppressed@simulator.invalid')).toBe(true);
    const complained = await waitFor(async () => {
      const r = ((await call(`${t.url}/api/v1/emails/${id}`, { key: w.key })).body.data as EmailData).events.find((e) => e.type === 'complained');
      return r ?? null;
    }, { what: 'the simulated complaint' });
    expect(complained.recipient).toBe('complained@simulator.invalid');
    const list = (await suppressions('', w.adminKey)).body.data as { suppressions: { email: string; reason: string }[] };
    expect(list.suppressions.map((s) => [s.email, s.reason]).sort()).toEqual([
      ['bounced@simulator.invalid', 'hard_bounce'],
      ['complained@simulator.invalid', 'complaint'],
    ]);
  });

  it('the API: add, list with filters and cursor, validation, remove, tenant isolation and scope', async () => {
    const w = await t.workspace();
    const other = await t.workspace();
    const post = (body: unknown, key = w.adminKey) => call(`${t.url}/api/v1/suppressions`, { key, body });
    for (let i = 0; i < 5; i++) {
      const res = await post({ email: `m${i}@example.test`, reason: 'manual' });
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ email: `m${i}@example.test`, scope: 'all', reason: 'manual', source_email_id: null, added: true });
    }
    expect((await post({ email: 'M0@example.test' })).body.data).toMatchObject({ email: 'm0@example.test', added: false });
    expect((await post({ email: 'bulk@example.test', scope: 'bulk' })).body.data).toMatchObject({ scope: 'bulk', added: true });
    for (const bad of [{ email: 'nope' }, { email: 'x@example.test', reason: 'hard_bounce' }, { email: 'x@example.test', scope: 'some' }, {}]) {
      const res = await post(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_ERROR');
    }
    expect((await suppressions('?reason=bogus', w.adminKey)).body.code).toBe('VALIDATION_ERROR');
    expect((await suppressions('?cursor=bogus', w.adminKey)).body.code).toBe('VALIDATION_ERROR');

    // pages of two, newest first, every entry once
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await suppressions(`?reason=manual&limit=2${cursor ? `&cursor=${cursor}` : ''}`, w.adminKey);
      const data = res.body.data as { suppressions: { email: string }[]; next_cursor: string | null; has_more: boolean };
      seen.push(...data.suppressions.map((s) => s.email));
      cursor = data.next_cursor;
      if (!data.has_more) break;
    }
    expect(seen.sort()).toEqual(['bulk@example.test', 'm0@example.test', 'm1@example.test', 'm2@example.test', 'm3@example.test', 'm4@example.test']);
    expect(((await suppressions('?email=M3@EXAMPLE.test', w.adminKey)).body.data as { suppressions: unknown[] }).suppressions).toHaveLength(1);
    expect(((await suppressions('?reason=hard_bounce', w.adminKey)).body.data as { suppressions: unknown[] }).suppressions).toHaveLength(0);

    // a contact added (or imported) for a listed address comes in blocked; an unsubscribe alone blocks nobody
    const getContact = async (email: string) => (await call(`${t.url}/api/v1/public/contacts/get-contact?email=${encodeURIComponent(email)}`, { key: w.adminKey })).body.data as { status: string; blocked_reason: string | null };
    await call(`${t.url}/api/v1/public/contacts/add-contact`, { key: w.adminKey, body: { email: 'M2@example.test' } });
    await call(`${t.url}/api/v1/public/contacts/add-contact`, { key: w.adminKey, body: { email: 'bulk@example.test' } });
    expect(await getContact('m2@example.test')).toMatchObject({ status: 'blocked', blocked_reason: 'manual' });
    expect(await getContact('bulk@example.test')).toMatchObject({ status: 'subscribed', blocked_reason: null });
    const imported = await call(`${t.url}/api/v1/public/contacts/import`, { key: w.adminKey, rawBody: 'email\nm4@example.test\nfree@example.test\n', headers: { 'content-type': 'text/csv' } });
    expect(imported.status, imported.text).toBe(202);
    await waitFor(async () => {
      const r = await call(`${t.url}/api/v1/public/contacts/imports/${(imported.body.data as { id: string }).id}`, { key: w.adminKey });
      return (r.body.data as { status: string }).status === 'completed';
    }, { what: 'the import' });
    expect(await getContact('m4@example.test')).toMatchObject({ status: 'blocked', blocked_reason: 'manual' });
    expect(await getContact('free@example.test')).toMatchObject({ status: 'subscribed' });

    // another workspace sees none of them and cannot remove them
    expect(((await suppressions('', other.adminKey)).body.data as { suppressions: unknown[] }).suppressions).toEqual([]);
    expect((await call(`${t.url}/api/v1/suppressions/m1%40example.test`, { method: 'DELETE', key: other.adminKey })).status).toBe(404);
    expect((await call(`${t.url}/api/v1/suppressions/m1%40example.test`, { method: 'DELETE', key: w.adminKey })).status).toBe(200);
    expect((await call(`${t.url}/api/v1/suppressions/m1%40example.test`, { method: 'DELETE', key: w.adminKey })).status).toBe(404);

    // a sending key, and an admin key without the scope, are refused
    expect((await suppressions('', w.key)).body.code).toBe('FORBIDDEN');
    const narrow = (await t.app.services.keys.createAdminKey({ workspaceId: w.id, scopes: ['contacts:read'] })).secretKey;
    expect((await suppressions('', narrow)).body.code).toBe('INSUFFICIENT_SCOPE');
  });

  it('the CLI lists, adds and removes', async () => {
    const s = t.app.services;
    const w = await t.workspace();
    expect(await runAdminCommand(s, 'suppression.add', { workspace: w.id, email: 'Cli@example.test' })).toMatchObject({ added: true, suppression: { email: 'Cli@example.test', reason: 'manual', scope: 'all' } });
    expect(await runAdminCommand(s, 'suppression.list', { workspace: w.id, email: 'cli@example.test' })).toMatchObject({ suppressions: [{ email: 'Cli@example.test' }] });
    expect(await runAdminCommand(s, 'suppression.list', { workspace: w.id, reason: 'complaint' })).toEqual({ suppressions: [] });
    expect(await runAdminCommand(s, 'suppression.remove', { workspace: w.id, email: 'cli@example.test' })).toMatchObject({ removed: [{ reason: 'manual' }] });
    await expect(runAdminCommand(s, 'suppression.remove', { workspace: w.id, email: 'cli@example.test' })).rejects.toThrow(/not suppressed/);
    await expect(runAdminCommand(s, 'suppression.add', { workspace: w.id, email: 'nope' })).rejects.toThrow(/invalid email/);
  });
});

describe('the simulator addresses in capture mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ backend: 'pglite' });
  });
  afterAll(() => t?.close());

  it('stores only the other recipients and gives the simulator ones their outcome', async () => {
    const ws = await t.workspace();
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: ['bounced@simulator.invalid', 'delivered@simulator.invalid', 'ada@example.org'], subject: 'sim', text: 'hi' } });
    const id = res.body.id as string;
    const email = await waitFor(async () => {
      const data = (await call(`${t.url}/api/v1/emails/${id}`, { key: ws.key })).body.data as EmailData;
      return data.status === 'delivered' ? data : null;
    });
    expect(email.recipients.map((r) => [r.status, r.bounce_type])).toEqual([
      ['bounced', 'hard'],
      ['delivered', null],
      ['delivered', null],
    ]);
    const captured = (await call(`${t.url}/api/v1/captured?email_id=${id}`, { key: ws.key })).body.data as { messages: { envelope_to: string[] }[] };
    expect(captured.messages.map((m) => m.envelope_to)).toEqual([['ada@example.org']]);
  });
});

describe('the simulator addresses in direct delivery (mx) mode', () => {
  let t: TestApp;
  let dns: TestDnsServer;
  beforeAll(async () => {
    // the DNS server knows no name: a simulator address must never be looked up
    dns = await startDnsServer();
    t = await startTestApp({ backend: 'pglite', env: { DELIVERY_MODE: 'mx', DNS_SERVERS: dns.server, DEFAULT_FROM: 'app@sender.test' } });
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  it('answers every simulator address without a DNS query or a connection', async () => {
    const ws = await t.workspace();
    const to = ['delivered@simulator.invalid', 'bounced@simulator.invalid', 'soft-bounced@simulator.invalid', 'suppressed@simulator.invalid'];
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to, subject: 'sim', text: 'hi' } });
    expect(res.status, res.text).toBe(200);
    const email = await waitFor(async () => {
      const data = (await call(`${t.url}/api/v1/emails/${res.body.id as string}`, { key: ws.key })).body.data as EmailData;
      return data.status === 'delivered' ? data : null;
    });
    expect(email.recipients.map((r) => [r.status, r.bounce_type])).toEqual([
      ['delivered', null],
      ['bounced', 'hard'],
      ['bounced', 'soft'],
      ['suppressed', null],
    ]);
    expect(dns.queries.filter((q) => JSON.stringify(q).includes('simulator.invalid'))).toEqual([]);
  });
});
