import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { publish, receiverVerdict, TEST_SECRET_KEY, type ApiDomain } from './support/domains.js';

interface EmailData {
  status: string;
  recipients: { email: string; status: string; smtp_response: string | null }[];
  events: { type: string; recipient: string | null; detail: Record<string, unknown> | null }[];
}
interface Captured {
  id: string;
  envelope_to: string[];
}

/** One header of a raw message, unfolded; undefined when absent. */
function header(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const oneClick = (url: string) => fetch(url, { method: 'POST', headers: FORM, body: 'List-Unsubscribe=One-Click' });

describe.each(BACKENDS)('one-click unsubscribe and the suppression list on %s', (backend) => {
  let t: TestApp;
  let dns: TestDnsServer;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    dns = await startDnsServer();
    t = await startTestApp({ backend, env: { DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY, SCHEDULE_MIN_SECONDS: '0' } });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  const send = async (tier: string, body: Record<string, unknown>) => {
    const sent = await call(`${t.url}/api/v1/send-email/${tier}`, { key: ws.key, body: { from: 'news@example.test', subject: 'Hello', ...body } });
    expect(sent.status, sent.text).toBe(200);
    return sent.body.id as string;
  };
  const email = async (id: string) => ((await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: ws.key })).body.data as EmailData);
  const settled = (id: string, status: string) => waitFor(async () => {
    const e = await email(id);
    return e.status === status ? e : null;
  }, { what: `${id} ${status}` });
  const captures = async (id: string) => ((await call(`${t.url}/api/v1/captured?email_id=${id}`, { key: ws.key })).body.data as { messages: Captured[] }).messages;
  const rawOf = async (id: string) => {
    const [c] = await waitFor(async () => {
      const list = await captures(id);
      return list.length > 0 ? list : null;
    }, { what: `capture of ${id}` });
    return (await call(`${t.url}/api/v1/captured/${c!.id}`, { key: ws.key })).body.data as Captured & { raw: string };
  };
  /** The URL of the List-Unsubscribe header of a captured email. */
  const listUnsubscribeUrl = async (id: string) => {
    const value = header((await rawOf(id)).raw, 'List-Unsubscribe');
    expect(value).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/u\/[\w-]+\.[\w-]+>$/);
    return value!.slice(1, -1);
  };
  const template = async (html: string) => {
    const res = await call(`${t.url}/api/v1/templates/save`, { key: ws.key, body: { name: `t${Math.random()}`, subject: 'News', html } });
    expect(res.status, res.text).toBe(200);
    return (res.body.data as { id: string }).id;
  };
  const suppressions = (address: string) => t.app.services.suppressions.find(ws.id, address);
  const eventsOf = (e: EmailData, type: string) => e.events.filter((x) => x.type === type);

  it('adds both headers to bulk mail and to mail whose template links {{unsubscribeUrl}}, and no others', async () => {
    const bulk = await send('bulk', { to: 'reader@example.org', html: '<p>News</p>' });
    const url = await listUnsubscribeUrl(bulk);
    expect(header((await rawOf(bulk)).raw, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(url.startsWith(`${t.url}/u/`)).toBe(true);

    const plain = await send('async', { to: 'reader@example.org', html: '<p>Your receipt</p>' });
    const plainRaw = (await rawOf(plain)).raw;
    expect(header(plainRaw, 'List-Unsubscribe')).toBeUndefined();
    expect(header(plainRaw, 'List-Unsubscribe-Post')).toBeUndefined();

    const linking = await template('<p>Hi</p><a href="{{unsubscribeUrl}}">Unsubscribe</a>');
    const withLink = await send('async', { to: 'reader@example.org', template_id: linking });
    const linkRaw = (await rawOf(withLink)).raw;
    const linkUrl = header(linkRaw, 'List-Unsubscribe')!.slice(1, -1);
    expect(header(linkRaw, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    // the header and the body's link are the same signed URL
    const stored = await t.app.services.emails.pageContent(withLink);
    expect(stored?.html).toContain(`href="${linkUrl}"`);

    const notLinking = await template('<p>Your order shipped</p>');
    const without = await send('async', { to: 'reader@example.org', template_id: notLinking });
    expect(header((await rawOf(without)).raw, 'List-Unsubscribe')).toBeUndefined();

    // a sender running its own list keeps its own header, and ours is not added
    const own = await send('bulk', { to: 'reader@example.org', html: '<p>x</p>', headers: { 'List-Unsubscribe': '<https://lists.example.test/u/1>' } });
    const ownRaw = (await rawOf(own)).raw;
    expect(header(ownRaw, 'List-Unsubscribe')).toBe('<https://lists.example.test/u/1>');
    expect(header(ownRaw, 'List-Unsubscribe-Post')).toBeUndefined();
  });

  it('signs both headers with DKIM on a verified domain, and the signature verifies', async () => {
    const added = await call(`${t.url}/api/v1/public/domains/add-domain`, { key: ws.adminKey, body: { domain: 'letters.test' } });
    const domain = added.body.data as ApiDomain;
    publish(dns, domain.dns_records);
    const verified = await call(`${t.url}/api/v1/public/domains/verify-domain/${domain.id}`, { method: 'POST', key: ws.adminKey, body: {} });
    expect((verified.body.data as ApiDomain).verification_status).toBe('verified');

    const id = await send('bulk', { from: 'news@letters.test', to: 'reader@example.org', html: '<p>Signed news</p>' });
    const captured = await rawOf(id);
    const dkim = header(captured.raw, 'DKIM-Signature')!;
    const signed = /\bh=([^;]+);/.exec(dkim)![1]!.replace(/\s+/g, '').toLowerCase().split(':');
    expect(signed).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post']));
    const raw = Buffer.from(captured.raw, 'utf8');
    const verdict = await receiverVerdict(dns, raw, 'news@letters.test');
    expect(verdict.dkim.results[0]!.status.result, verdict.dkim.results[0]!.info).toBe('pass');
    expect(verdict.dkim.results[0]!.signingDomain).toBe('letters.test');
  });

  it('one-click suppresses the address for bulk mail: the next bulk send skips it, others go out, async still goes', async () => {
    const first = await send('bulk', { to: 'Leaver@Example.org', html: '<p>Issue 1</p>' });
    const url = await listUnsubscribeUrl(first);
    const res = await oneClick(url);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('You are unsubscribed');
    expect(page).toContain('Subscribe again');
    // repeated: mail clients retry, people click twice; still one suppression and one event
    expect((await oneClick(url)).status).toBe(200);
    expect((await fetch(url, { method: 'POST', headers: FORM, body: '' })).status).toBe(200);
    expect(await suppressions('leaver@example.org')).toEqual([
      expect.objectContaining({ email: 'Leaver@Example.org', scope: 'bulk', reason: 'unsubscribe', source_email_id: first }),
    ]);
    const unsubscribed = eventsOf(await email(first), 'unsubscribed');
    expect(unsubscribed).toHaveLength(1);
    expect(unsubscribed[0]).toMatchObject({ recipient: 'Leaver@Example.org', detail: { via: 'one-click', suppressed: 'bulk' } });

    // the address in another spelling, next to one that is not suppressed
    const next = await send('bulk', { to: ['leaver@EXAMPLE.org', 'stayer@example.org'], html: '<p>Issue 2</p>' });
    const done = await settled(next, 'delivered');
    expect(done.recipients.map((r) => [r.email, r.status])).toEqual([
      ['leaver@EXAMPLE.org', 'suppressed'],
      ['stayer@example.org', 'delivered'],
    ]);
    expect(eventsOf(done, 'suppressed')).toEqual([expect.objectContaining({ recipient: 'leaver@EXAMPLE.org', detail: expect.objectContaining({ reason: 'unsubscribe', scope: 'bulk' }) })]);
    const out = await captures(next);
    expect(out).toHaveLength(1);
    expect(out[0]!.envelope_to).toEqual(['stayer@example.org']);

    // every recipient suppressed: nothing is attempted and the email ends suppressed
    const none = await send('bulk', { to: 'leaver@example.org', html: '<p>Issue 3</p>' });
    const skipped = await settled(none, 'suppressed');
    expect(skipped.recipients[0]).toMatchObject({ status: 'suppressed' });
    expect(skipped.recipients[0]!.smtp_response).toContain('suppression list');
    expect(eventsOf(skipped, 'suppressed')).toHaveLength(1);
    expect(await captures(none)).toHaveLength(0);

    // transactional mail is not bulk: an unsubscribe does not stop a receipt
    const receipt = await send('async', { to: 'leaver@example.org', html: '<p>Your receipt</p>' });
    expect((await settled(receipt, 'delivered')).recipients[0]!.status).toBe('delivered');
  });

  it('the resubscribe button lifts the unsubscribe, records it, and bulk mail goes out again', async () => {
    const first = await send('bulk', { to: 'undo@example.org', html: '<p>Issue 1</p>' });
    const url = await listUnsubscribeUrl(first);
    const page = await (await oneClick(url)).text();
    const action = /action="(resubscribe\/[^"]+)"/.exec(page)![1]!;
    const resubscribeUrl = new URL(action, url).toString();
    expect(resubscribeUrl.startsWith(`${t.url}/u/resubscribe/`)).toBe(true);

    // the unsubscribe token is not a resubscribe token, and opening the button's address does nothing
    expect((await fetch(`${t.url}/u/resubscribe/${url.slice(url.lastIndexOf('/') + 1)}`, { method: 'POST', headers: FORM, body: '' })).status).toBe(404);
    expect(await suppressions('undo@example.org')).toHaveLength(1);

    const back = await fetch(resubscribeUrl, { method: 'POST', headers: FORM, body: '' });
    expect(back.status).toBe(200);
    expect(await back.text()).toContain('Subscribed again');
    expect(await suppressions('undo@example.org')).toEqual([]);
    const again = await fetch(resubscribeUrl, { method: 'POST', headers: FORM, body: '' });
    expect(await again.text()).toContain('Nothing to undo');
    const timeline = await email(first);
    expect(eventsOf(timeline, 'resubscribed')).toEqual([expect.objectContaining({ recipient: 'undo@example.org', detail: { via: 'resubscribe link' } })]);

    const next = await send('bulk', { to: 'undo@example.org', html: '<p>Issue 2</p>' });
    expect((await settled(next, 'delivered')).recipients[0]!.status).toBe('delivered');

    // unsubscribing again after a resubscribe is a new request: a second event
    await oneClick(url);
    expect(eventsOf(await email(first), 'unsubscribed')).toHaveLength(2);
  });

  it('an unsubscribe made while a bulk email waits in the queue holds when its time comes', async () => {
    const later = await send('bulk', { to: 'waiting@example.org', html: '<p>later</p>', scheduled_at: new Date(Date.now() + 4000).toISOString() });
    expect((await email(later)).status).toBe('scheduled');
    const receipt = await send('async', { to: 'waiting@example.org', html: '<p>now</p>' });
    expect((await oneClick(`${t.url}/u/${t.app.services.tokens.sign('unsubscribe', `${receipt}/0`)}`)).status).toBe(200);
    expect((await settled(later, 'suppressed')).recipients[0]!.status).toBe('suppressed');
  });

  it('a resubscribe never lifts a suppression made for another reason', async () => {
    const first = await send('bulk', { to: 'bounced@example.org', html: '<p>x</p>' });
    const url = await listUnsubscribeUrl(first);
    const action = /action="(resubscribe\/[^"]+)"/.exec(await (await oneClick(url)).text())![1]!;
    await t.app.services.database.db
      .insertInto('suppressions')
      .values({ workspace_id: ws.id, email_key: 'bounced@example.org', email: 'bounced@example.org', scope: 'all', reason: 'hard_bounce', source_email_id: null })
      .execute();
    await fetch(new URL(action, url), { method: 'POST', headers: FORM, body: '' });
    expect((await suppressions('bounced@example.org')).map((s) => [s.scope, s.reason])).toEqual([['all', 'hard_bounce']]);
    // `all` holds for every tier
    const receipt = await send('instant', { to: 'bounced@example.org', html: '<p>receipt</p>' });
    expect((await settled(receipt, 'suppressed')).recipients[0]!.status).toBe('suppressed');
  });

  it('a link of an email to several recipients names none: it is recorded once and suppresses nobody', async () => {
    const id = await send('bulk', { to: ['one@example.org', 'two@example.org'], html: '<p>x</p>' });
    const url = await listUnsubscribeUrl(id);
    const res = await oneClick(url);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('recorded and passed on to the sender');
    expect(text).not.toMatch(/you are unsubscribed|subscribe again/i);
    await oneClick(url);
    const events = eventsOf(await email(id), 'unsubscribed');
    expect(events).toEqual([expect.objectContaining({ recipient: null })]);
    expect(await suppressions('one@example.org')).toEqual([]);
    expect(await suppressions('two@example.org')).toEqual([]);
  });

  it('an older link signed for the email alone still works, and acts on its only recipient', async () => {
    const id = await send('async', { to: 'legacy@example.org', html: '<p>x</p>' });
    const res = await oneClick(`${t.url}/u/${t.app.services.tokens.sign('unsubscribe', id)}`);
    expect(await res.text()).toContain('You are unsubscribed');
    expect(await suppressions('legacy@example.org')).toHaveLength(1);
  });

  it('forged, altered or foreign tokens are a 404 page and change nothing', async () => {
    const id = await send('bulk', { to: 'target@example.org', html: '<p>x</p>' });
    const url = await listUnsubscribeUrl(id);
    const token = url.slice(url.lastIndexOf('/') + 1);
    const [value] = token.split('.');
    const otherRecipient = `${Buffer.from(`${id}/1`).toString('base64url')}.${token.split('.')[1]}`;
    const forged = [
      `${url}x`,
      `${t.url}/u/${value}.${'A'.repeat(32)}`,
      `${t.url}/u/${otherRecipient}`,
      `${t.url}/u/${t.app.services.tokens.sign('view', id)}`,
      `${t.url}/u/${t.app.services.tokens.sign('unsubscribe', `${id}/99999`)}`,
      `${t.url}/u/${t.app.services.tokens.sign('unsubscribe', `${id}/1`)}`,
      `${t.url}/u/${t.app.services.tokens.sign('unsubscribe', `${id}/01`)}`,
      `${t.url}/u/${t.app.services.tokens.sign('unsubscribe', 'msg_nonexistent')}`,
    ];
    for (const u of forged) {
      expect((await oneClick(u)).status, u).toBe(404);
      expect((await fetch(u)).status, u).toBe(404);
    }
    expect(await suppressions('target@example.org')).toEqual([]);
    expect(eventsOf(await email(id), 'unsubscribed')).toEqual([]);
  });

  it('an email sent to an audience unsubscribes its member from that audience instead (the campaigns hook)', async () => {
    const audience = await t.app.services.audiences.create(ws.id, { name: 'Weekly' });
    const other = await t.app.services.audiences.create(ws.id, { name: 'Monthly' });
    await t.app.services.contacts.add(ws.id, 'member@example.org', { profile: {}, audienceId: audience.id });
    await t.app.services.contacts.add(ws.id, 'member@example.org', { profile: {}, audienceId: other.id });
    const id = await send('bulk', { to: 'Member@example.org', html: '<p>Weekly</p>' });
    const url = await listUnsubscribeUrl(id);
    // no send option sets it yet: campaigns will
    await t.app.services.database.db.updateTable('messages').set({ audience_id: audience.id }).where('id', '=', id).execute();
    const membership = async (audienceId: string) =>
      (await t.app.services.database.db
        .selectFrom('audience_members as m')
        .innerJoin('contacts as c', 'c.id', 'm.contact_id')
        .select('m.status')
        .where('m.audience_id', '=', audienceId)
        .where('c.email_key', '=', 'member@example.org')
        .executeTakeFirst())?.status;

    const page = await (await oneClick(url)).text();
    expect(page).toContain('emails sent to this list');
    await oneClick(url);
    expect(await membership(audience.id)).toBe('unsubscribed');
    expect(await membership(other.id)).toBe('subscribed');
    expect(await suppressions('member@example.org')).toEqual([]);
    expect(eventsOf(await email(id), 'unsubscribed')).toEqual([expect.objectContaining({ recipient: 'Member@example.org', detail: { via: 'one-click', audience_id: audience.id } })]);
    const contactEvents = await t.app.services.database.db.selectFrom('contact_events').select(['type', 'audience_id']).where('workspace_id', '=', ws.id).where('type', '=', 'contact.unsubscribed').execute();
    expect(contactEvents).toEqual([{ type: 'contact.unsubscribed', audience_id: audience.id }]);

    const action = /action="(resubscribe\/[^"]+)"/.exec(page)![1]!;
    expect(await (await fetch(new URL(action, url), { method: 'POST', headers: FORM, body: '' })).text()).toContain('Subscribed again');
    expect(await membership(audience.id)).toBe('subscribed');
    expect(eventsOf(await email(id), 'resubscribed')).toHaveLength(1);
  });
});
