import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIRM_TOKEN_PURPOSE } from '../src/modules/hosted/subscribe.js';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { captureLog } from './support/log-capture.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** Each test posts as a client of its own (TRUST_PROXY trusts the loopback peer), so the per-address limit of one test never meets another's. */
let nextClient = 1;
const client = () => `198.51.100.${nextClient++}`;

describe.each(BACKENDS)('the hosted subscribe page on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { TRUST_PROXY: 'loopback', SUBSCRIBE_FORM_POSTS_PER_MINUTE: '3' } });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const db = () => t.app.services.database.db;
  const audience = async (name: string, doubleOptIn = false) => {
    const a = await t.app.services.audiences.create(ws.id, { name, doubleOptIn });
    return { id: a.id, url: a.subscribe_url };
  };
  const post = (url: string, fields: Record<string, string>, from = client()) =>
    fetch(url, { method: 'POST', headers: { ...FORM, 'x-forwarded-for': from }, body: new URLSearchParams(fields).toString() });
  const contact = (email: string) => db().selectFrom('contacts').selectAll().where('workspace_id', '=', ws.id).where('email_key', '=', email.toLowerCase()).executeTakeFirst();
  const membership = async (audienceId: string, email: string) => {
    const c = await contact(email);
    if (!c) return undefined;
    return db().selectFrom('audience_members').selectAll().where('audience_id', '=', audienceId).where('contact_id', '=', c.id).executeTakeFirst();
  };
  const events = async (email: string) => {
    const c = await contact(email);
    if (!c) return [];
    const rows = await db().selectFrom('contact_events').select(['type', 'audience_id', 'data']).where('contact_id', '=', c.id).orderBy('id').execute();
    return rows.map((r) => ({ type: r.type, audience: r.audience_id, source: (r.data as { source?: string }).source }));
  };
  const captured = async (to: string) => {
    const list = await call(`${t.url}/api/v1/captured?recipient=${encodeURIComponent(to)}`, { key: ws.key });
    return (list.body.data as { messages: { id: string; subject: string }[] }).messages;
  };
  /** The confirmation link in the captured email, quoted-printable soft breaks undone. */
  const confirmLink = async (to: string) => {
    const [message] = await waitFor(async () => {
      const m = await captured(to);
      return m.length > 0 ? m : null;
    }, { what: `the confirmation email to ${to}` });
    const raw = await call(`${t.url}/api/v1/captured/${message!.id}`, { key: ws.key });
    const text = (raw.body.data as { raw: string }).raw.replace(/=\r?\n/g, '');
    const link = /https?:\/\/[^\s"<>]+\/s\/confirm\/[A-Za-z0-9_.-]+/.exec(text)?.[0];
    expect(link, text.slice(0, 2000)).toBeDefined();
    return { link: link!, subject: message!.subject };
  };

  const expectOwnPage = (res: Response) => {
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = (res.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim());
    expect(csp).toEqual(expect.arrayContaining(["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]));
    expect(csp.some((d) => d.startsWith('script-src'))).toBe(false);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  };

  it('serves an accessible form with the audience name, no script and a strict CSP', async () => {
    const a = await audience('Tom & <Jerry> news');
    expect(a.url.startsWith(`${t.url}/s/`)).toBe(true);
    const res = await fetch(a.url);
    expect(res.status).toBe(200);
    expectOwnPage(res);
    const html = await res.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<h1>Subscribe to Tom &amp; &lt;Jerry&gt; news</h1>');
    expect(html).not.toMatch(/<script|\son\w+=|javascript:/i);
    expect(html).toMatch(/<label for="email">[^<]+<\/label><input id="email" name="email" type="email" required/);
    expect(html).toMatch(/<label for="name">[^<]+<\/label><input id="name" name="name"/);
    expect(html).toMatch(/<div class="hp" aria-hidden="true"><label for="website">[^<]+<\/label><input id="website" name="website" type="text" tabindex="-1"/);
    expect(html).toContain('<form method="post">');
    expect(html).toContain('<button type="submit">');
  });

  it('answers the 404 page to an invalid, altered or foreign-purpose token, and to an audience that is gone', async () => {
    const a = await audience('Soon gone');
    const token = a.url.split('/s/')[1]!;
    const other = t.app.services.tokens.sign('unsubscribe', `${ws.id}/${a.id}`);
    for (const url of [`${t.url}/s/nope`, `${a.url}x`, `${t.url}/s/${other}`, `${t.url}/s/${token.slice(1)}`]) {
      for (const res of [await fetch(url), await post(url, { email: 'x@example.com' })]) {
        expect(res.status, url).toBe(404);
        expectOwnPage(res);
        expect(await res.text()).toContain('Link not valid');
      }
    }
    await t.app.services.audiences.delete(ws.id, a.id);
    expect((await fetch(a.url)).status).toBe(404);
    expect((await post(a.url, { email: 'late@example.com' })).status).toBe(404);
    expect(await contact('late@example.com')).toBeUndefined();
  });

  it('subscribes a new address: the contact, its name, the membership and the events', async () => {
    const a = await audience('Weekly');
    const res = await post(a.url, { email: 'Ada.Lovelace@Example.org', name: '  Ada   King Lovelace ' });
    expect(res.status).toBe(200);
    expectOwnPage(res);
    expect(await res.text()).toContain('Your request to subscribe to Weekly was received');
    expect(await contact('ada.lovelace@example.org')).toMatchObject({ email: 'Ada.Lovelace@Example.org', first_name: 'Ada', last_name: 'King Lovelace', status: 'subscribed' });
    expect(await membership(a.id, 'ada.lovelace@example.org')).toMatchObject({ status: 'subscribed' });
    expect(await events('ada.lovelace@example.org')).toEqual([
      { type: 'contact.created', audience: null, source: 'subscribe form' },
      { type: 'contact.subscribed', audience: a.id, source: 'subscribe form' },
    ]);
    // a repeat changes nothing and tells of nothing
    expect((await post(a.url, { email: 'ada.lovelace@example.org', name: 'Someone Else' })).status).toBe(200);
    expect(await contact('ada.lovelace@example.org')).toMatchObject({ first_name: 'Ada', last_name: 'King Lovelace' });
    expect(await events('ada.lovelace@example.org')).toHaveLength(2);
    expect((await t.app.services.audiences.get(ws.id, a.id)).contact_count).toBe(1);
  });

  it('brings back a contact that unsubscribed, and leaves its other audiences alone', async () => {
    const a = await audience('Come back');
    const b = await audience('Elsewhere');
    const added = await t.app.services.contacts.add(ws.id, 'back@example.com', { profile: { first_name: 'Bo' }, audienceId: a.id });
    await t.app.services.contacts.add(ws.id, 'back@example.com', { profile: {}, audienceId: b.id });
    await t.app.services.contacts.setSubscription(ws.id, added.contact.id, a.id, 'unsubscribed', 'test');
    await t.app.services.contacts.setSubscription(ws.id, added.contact.id, b.id, 'unsubscribed', 'test');
    expect((await post(a.url, { email: 'BACK@example.com', name: 'Not Bo' })).status).toBe(200);
    expect(await membership(a.id, 'back@example.com')).toMatchObject({ status: 'subscribed' });
    expect(await membership(b.id, 'back@example.com')).toMatchObject({ status: 'unsubscribed' });
    // the public form never rewrites an existing contact's profile
    expect(await contact('back@example.com')).toMatchObject({ first_name: 'Bo', last_name: null });
    expect((await events('back@example.com')).at(-1)).toEqual({ type: 'contact.subscribed', audience: a.id, source: 'subscribe form' });
  });

  it('leaves a blocked contact blocked and outside the audience, with the same thanks page', async () => {
    const a = await audience('Blocked test');
    const added = await t.app.services.contacts.add(ws.id, 'blocked@example.com', { profile: {} });
    await t.app.services.contacts.update(ws.id, { id: added.contact.id }, { profile: {}, status: 'blocked' });
    const before = await events('blocked@example.com');
    const blocked = await post(a.url, { email: 'blocked@example.com' });
    const fresh = await post(a.url, { email: 'fresh@example.com' });
    expect(blocked.status).toBe(200);
    expect(await blocked.text()).toBe(await fresh.text());
    expect(await contact('blocked@example.com')).toMatchObject({ status: 'blocked', blocked_reason: 'manual' });
    expect(await membership(a.id, 'blocked@example.com')).toBeUndefined();
    expect(await events('blocked@example.com')).toEqual(before);
    // nor does a double opt-in form mail it a confirmation
    const d = await audience('Blocked double', true);
    const doubled = await post(d.url, { email: 'blocked@example.com' });
    expect(doubled.status).toBe(200);
    expect(await doubled.text()).toContain('Check your inbox');
    expect(await membership(d.id, 'blocked@example.com')).toBeUndefined();
    // a confirmation is committed before the page answers, so none can still be on its way
    expect(await db().selectFrom('messages').select('id').where('workspace_id', '=', ws.id).where('subject', '=', 'Confirm your subscription to Blocked double').execute()).toEqual([]);
  });

  it('re-renders the form with an escaped error and status 400 for invalid input, recording nothing', async () => {
    const a = await audience('Validation');
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /Enter your email address/],
      [{ email: '   ' }, /Enter your email address/],
      [{ email: '<script>alert(1)</script>' }, /valid email address/],
      [{ email: 'a@b' }, /valid email address/],
      [{ email: `${'a'.repeat(3000)}@example.com` }, /valid email address/],
      [{ email: 'ok@example.com', name: 'x'.repeat(201) }, /at most 200 characters/],
      [{ email: 'ok@example.com', name: 'Ada\u202eevil' }, /at most 200 characters/],
    ];
    for (const [fields, message] of cases) {
      const res = await post(a.url, fields);
      expect(res.status, JSON.stringify(fields).slice(0, 80)).toBe(400);
      expectOwnPage(res);
      const html = await res.text();
      expect(html).toMatch(message);
      expect(html).toContain('role="alert"');
      expect(html).not.toContain('<script>');
      if (fields.email?.startsWith('<script>')) expect(html).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
    }
    expect(await contact('ok@example.com')).toBeUndefined();
  });

  it('accepts only a small form body: JSON is 415, a large body 413', async () => {
    const a = await audience('Bodies');
    const json = await call(a.url, { body: { email: 'json@example.com' }, headers: { 'x-forwarded-for': client() } });
    expect(json.status).toBe(415);
    expect(json.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const big = await post(a.url, { email: 'big@example.com', name: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
    expect(await contact('json@example.com')).toBeUndefined();
    expect(await contact('big@example.com')).toBeUndefined();
  });

  it('a filled honeypot answers the thanks page and records nothing', async () => {
    const a = await audience('Honeypot');
    const bot = await post(a.url, { email: 'bot@example.com', name: 'Bot', website: 'https://spam.example' });
    expect(bot.status).toBe(200);
    expect(await bot.text()).toContain('Thank you');
    expect(await contact('bot@example.com')).toBeUndefined();
    const d = await audience('Honeypot double', true);
    expect((await post(d.url, { email: 'bot2@example.com', website: 'x' })).status).toBe(200);
    expect(await contact('bot2@example.com')).toBeUndefined();
    expect(await captured('bot2@example.com')).toEqual([]);
  });

  it('limits submissions per client address: 429 with Retry-After, other clients unaffected', async () => {
    const a = await audience('Limited');
    const from = client();
    // 3 per minute: of 7 quick posts at least 4 fall in one window, even across a minute boundary
    const answers: Response[] = [];
    for (let i = 0; i < 7; i++) answers.push(await post(a.url, { email: `limited${i}@example.com` }, from));
    expect(answers.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expectOwnPage(limited[0]!);
    const retryAfter = Number(limited[0]!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await limited[0]!.text()).toContain('Too many requests');
    expect((await post(a.url, { email: 'other-client@example.com' })).status).toBe(200);
    // a limited submission recorded nothing
    const recorded = await db().selectFrom('contacts').select('email').where('workspace_id', '=', ws.id).where('email', 'like', 'limited%').execute();
    expect(recorded.length).toBe(answers.filter((r) => r.status === 200).length);
  });

  describe('double opt-in', () => {
    it('keeps the contact pending until the emailed link is confirmed with the button', async () => {
      const a = await audience('Confirmed list', true);
      const res = await post(a.url, { email: 'doi@example.com', name: 'Grace Hopper' });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Check your inbox');
      expect(await membership(a.id, 'doi@example.com')).toMatchObject({ status: 'pending' });
      expect((await events('doi@example.com')).map((e) => e.type)).toEqual(['contact.created']);

      const { link, subject } = await confirmLink('doi@example.com');
      expect(subject).toBe('Confirm your subscription to Confirmed list');
      expect(link.startsWith(`${t.url}/s/confirm/`)).toBe(true);
      const email = await db().selectFrom('messages').select(['tier', 'from_email', 'api_key_id']).where('workspace_id', '=', ws.id).where('subject', '=', subject).executeTakeFirstOrThrow();
      expect(email).toEqual({ tier: 'async', from_email: t.config.defaultFrom, api_key_id: null });

      // opening the link (what a mail scanner does) confirms nothing
      const opened = await fetch(link);
      expect(opened.status).toBe(200);
      expectOwnPage(opened);
      const page = await opened.text();
      expect(page).toContain('<form method="post"><button type="submit">Confirm subscription</button></form>');
      expect(page).not.toMatch(/<script/i);
      expect(await membership(a.id, 'doi@example.com')).toMatchObject({ status: 'pending' });

      const confirmed = await fetch(link, { method: 'POST', headers: FORM, body: '' });
      expect(confirmed.status).toBe(200);
      expectOwnPage(confirmed);
      expect(await confirmed.text()).toContain('You are subscribed to Confirmed list');
      expect(await membership(a.id, 'doi@example.com')).toMatchObject({ status: 'subscribed' });
      expect(await events('doi@example.com')).toEqual([
        { type: 'contact.created', audience: null, source: 'subscribe form' },
        { type: 'contact.subscribed', audience: a.id, source: 'subscribe form (confirmed)' },
      ]);
      // a second click changes nothing
      expect((await fetch(link, { method: 'POST' })).status).toBe(200);
      expect(await events('doi@example.com')).toHaveLength(2);
      // and the form, once subscribed, sends nothing more
      expect((await post(a.url, { email: 'doi@example.com' })).status).toBe(200);
      expect(await captured('doi@example.com')).toHaveLength(1);
    });

    it('does not mail the address again while a confirmation is recent', async () => {
      const a = await audience('No flood', true);
      for (let i = 0; i < 3; i++) expect((await post(a.url, { email: 'flood@example.com' })).status).toBe(200);
      await confirmLink('flood@example.com');
      const messages = await db().selectFrom('messages').select('id').where('workspace_id', '=', ws.id).where('subject', '=', 'Confirm your subscription to No flood').execute();
      expect(messages).toHaveLength(1);
    });

    it('a forged, altered, foreign, expired or stale confirmation token does nothing', async () => {
      const a = await audience('Guarded', true);
      expect((await post(a.url, { email: 'guarded@example.com' })).status).toBe(200);
      const { link } = await confirmLink('guarded@example.com');
      const token = link.split('/s/confirm/')[1]!;
      const c = (await contact('guarded@example.com'))!;
      // the link names the workspace, audience and contact, and expires in 7 days
      const [value] = token.split('.');
      const [w, au, co, expires] = Buffer.from(value!, 'base64url').toString('utf8').split('/');
      expect([w, au, co]).toEqual([ws.id, a.id, c.id]);
      expect(Number(expires) * 1000 - Date.now()).toBeGreaterThan(7 * 86_400_000 - 120_000);
      expect(Number(expires) * 1000 - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
      const tokens = t.app.services.tokens;
      const past = Math.floor(Date.now() / 1000) - 60;
      const future = Math.floor(Date.now() / 1000) + 3600;
      const bad = [
        `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
        `${token}.x`,
        'nope',
        // the same value signed for another purpose, or by another secret
        tokens.sign('subscribe', `${ws.id}/${a.id}/${c.id}/${future}`),
        `${Buffer.from(`${ws.id}/${a.id}/${c.id}/${future}`).toString('base64url')}.${'A'.repeat(32)}`,
        // expired
        tokens.sign(CONFIRM_TOKEN_PURPOSE, `${ws.id}/${a.id}/${c.id}/${past}`),
        // another workspace's id with this audience
        tokens.sign(CONFIRM_TOKEN_PURPOSE, `${(await t.workspace()).id}/${a.id}/${c.id}/${future}`),
      ];
      for (const b of bad) {
        for (const method of ['GET', 'POST']) {
          const res = await fetch(`${t.url}/s/confirm/${b}`, { method });
          expect(res.status, `${method} ${b}`).toBe(404);
          expectOwnPage(res);
        }
      }
      expect(await membership(a.id, 'guarded@example.com')).toMatchObject({ status: 'pending' });
      // an unsubscribe after the request wins over the old link
      await t.app.services.contacts.setSubscription(ws.id, c.id, a.id, 'unsubscribed', 'test');
      expect((await fetch(link, { method: 'POST' })).status).toBe(404);
      expect(await membership(a.id, 'guarded@example.com')).toMatchObject({ status: 'unsubscribed' });
      expect((await events('guarded@example.com')).map((e) => e.type)).toEqual(['contact.created', 'contact.unsubscribed']);
    });

    it('an unsubscribed contact that comes back through a double opt-in form is pending until it confirms', async () => {
      const a = await audience('Second chance', true);
      const added = await t.app.services.contacts.add(ws.id, 'again@example.com', { profile: {}, audienceId: a.id });
      await t.app.services.contacts.setSubscription(ws.id, added.contact.id, a.id, 'unsubscribed', 'test');
      expect((await post(a.url, { email: 'again@example.com' })).status).toBe(200);
      expect(await membership(a.id, 'again@example.com')).toMatchObject({ status: 'pending' });
      const { link } = await confirmLink('again@example.com');
      expect((await fetch(link, { method: 'POST' })).status).toBe(200);
      expect(await membership(a.id, 'again@example.com')).toMatchObject({ status: 'subscribed' });
      expect((await events('again@example.com')).at(-1)).toMatchObject({ type: 'contact.subscribed', source: 'subscribe form (confirmed)' });
    });
  });
});

describe('double opt-in without a sender', () => {
  let t: TestApp;
  const log = captureLog('info');
  beforeAll(async () => {
    // direct delivery and no DEFAULT_FROM: the placeholder sender could not deliver a confirmation
    t = await startTestApp({ backend: 'pglite', env: { DELIVERY_MODE: 'mx' }, roles: { api: true, worker: false }, logger: log.logger });
  });
  afterAll(() => t?.close());

  it('says so on the page, records nothing, and still serves forms without double opt-in', async () => {
    const ws = await t.workspace();
    const doi = await t.app.services.audiences.create(ws.id, { name: 'Needs a sender', doubleOptIn: true });
    const page = await fetch(doi.subscribe_url);
    expect(page.status).toBe(503);
    const text = await page.text();
    expect(text).toContain('no sender address configured');
    expect(text).not.toContain('<form');
    const posted = await fetch(doi.subscribe_url, { method: 'POST', headers: FORM, body: 'email=nosender%40example.com' });
    expect(posted.status).toBe(503);
    expect(await posted.text()).toContain('Nothing was recorded');
    expect(log.lines().filter((l) => l.level === 40 && String(l.msg).includes('set DEFAULT_FROM'))).toHaveLength(1);
    const db = t.app.services.database.db;
    expect(await db.selectFrom('contacts').select('id').where('workspace_id', '=', ws.id).execute()).toEqual([]);
    expect(await db.selectFrom('messages').select('id').where('workspace_id', '=', ws.id).execute()).toEqual([]);

    const plain = await t.app.services.audiences.create(ws.id, { name: 'Single opt-in' });
    expect((await fetch(plain.subscribe_url)).status).toBe(200);
    expect((await fetch(plain.subscribe_url, { method: 'POST', headers: FORM, body: 'email=plain%40example.com' })).status).toBe(200);
  });
});
