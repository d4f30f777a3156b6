import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { BOT_USER_AGENTS } from '../src/modules/tracking/bots.js';
import { scanForTracking } from '../src/modules/tracking/scan.js';
import { RECORDED_BOTS } from '../src/modules/tracking/store.js';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { publish, receiverVerdict, TEST_SECRET_KEY, type ApiDomain } from './support/domains.js';
import { whileProbingHealth } from './support/health-prober.js';
import { decodedPart } from './support/mime.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

/** How long /health may take while hostile work runs: any real stall is seconds. */
const HEALTH_WITHIN_MS = 1000;

const LINKS_HTML =
  '<html><body><p>Hello</p>' +
  '<a href="https://shop.example/pricing?plan=pro&amp;period=year#faq">pricing</a>' +
  "<A class='x' HREF='http://blog.example/post'>blog</A>" +
  '<a href=https://unquoted.example/x>unquoted</a>' +
  '<a href="mailto:help@shop.example">mail</a>' +
  '<a href="tel:+15550100">call</a>' +
  '<a href="#top">top</a>' +
  '<a href="/relative/path">relative</a>' +
  '<a href="javascript:alert(1)">js</a>' +
  '<style>a[href="https://style.example/"]{color:red} <a href="https://style.example/">x</a></style>' +
  '</body></html>';

const pixelOf = (html: string) => /<img src="([^"]*\/t\/o\/[^"]+)" width="1" height="1" alt="" style="display:none[^"]*">/.exec(html)?.[1];
const hrefs = (html: string): string[] => [...html.matchAll(/<a\b[^>]*?\bhref\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi)].map((m) => m[1]!.replace(/^["']|["']$/g, ''));

describe('the tracking scan (pure)', () => {
  const options = { publicUrl: 'https://mail.example.test', opens: true, clicks: true };

  it('finds http(s) links, entity-decoded as a browser reads them, and leaves everything else', () => {
    const plan = scanForTracking(LINKS_HTML, options);
    expect(plan.links.map((l) => l[2])).toEqual(['https://shop.example/pricing?plan=pro&period=year#faq', 'http://blog.example/post', 'https://unquoted.example/x']);
    // the ranges are the href values with their quotes
    expect(plan.links.map(([s, e]) => LINKS_HTML.slice(s, e))).toEqual(['"https://shop.example/pricing?plan=pro&amp;period=year#faq"', "'http://blog.example/post'", 'https://unquoted.example/x']);
    expect(plan.pixelAt).toBe(LINKS_HTML.lastIndexOf('</body>'));
  });

  it('leaves our own hosted links (/u/, /v/, /s/, /t/) alone and appends the pixel when there is no </body>', () => {
    const html = ['u', 'v', 's', 't'].map((p) => `<a href="https://mail.example.test/${p}/abc.def">${p}</a>`).join('') + '<a href="https://mail.example.test/other">x</a>';
    const plan = scanForTracking(html, options);
    expect(plan.links.map((l) => l[2])).toEqual(['https://mail.example.test/other']);
    expect(plan.pixelAt).toBe(html.length);
  });

  it('the README lists every bot User-Agent the code knows', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.split('### Tracking')[1]!.split('\n### ')[0]!.toLowerCase();
    for (const bot of BOT_USER_AGENTS) expect(section, bot.what).toContain(`\`${bot.match}`);
  });

  it('stops at a tag that never closes and reads a megabyte of "<a" in one pass', () => {
    expect(scanForTracking('<a href="https://a.example/">a</a><a href="https://b.example/', options).links).toHaveLength(1);
    // generous: a quadratic scan of this would take minutes
    const started = performance.now();
    expect(scanForTracking('<a'.repeat(500_000), options).links).toEqual([]);
    expect(scanForTracking('<a href=x '.repeat(100_000), options).links).toEqual([]);
    expect(scanForTracking(`${'<div>'.repeat(200_000)}<a href="https://deep.example/">x</a>`, options).links).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe.each(BACKENDS)('open and click tracking on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    // a per-client limit low enough that the tracking routes would hit it if they were throttled
    t = await startTestApp({ backend, env: { UNAUTHENTICATED_REQUESTS_PER_SECOND: '3' } });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
  });

  const send = (body: Record<string, unknown>, key = ws.key) => call(`${t.url}/api/v1/send-email/instant`, { key, body: { to: 'ada@example.org', subject: 'Tracked', ...body } });
  const storedHtml = async (id: string) => (await t.app.services.database.db.selectFrom('messages').select('html').where('id', '=', id).executeTakeFirstOrThrow()).html ?? '';
  const getEmail = async (id: string, key = ws.key) => {
    const r = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key });
    expect(r.status, r.text).toBe(200);
    return r.body.data as Record<string, unknown> & { events: { type: string; recipient: string | null; detail: Record<string, unknown> | null }[] };
  };
  const trackingEvents = async (id: string, type: 'opened' | 'clicked') => (await getEmail(id)).events.filter((e) => e.type === type);
  const clickLinks = (html: string) => hrefs(html).filter((h) => h.startsWith(`${t.url}/t/c/`));
  const fetchManual = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init });

  it('rewrites http(s) links and adds the pixel before </body>; mailto, tel, #, relative links and the text part stay', async () => {
    const sent = await send({ html: LINKS_HTML, text: 'Visit https://shop.example/pricing' });
    expect(sent.status, sent.text).toBe(200);
    const id = sent.body.id as string;
    const html = await storedHtml(id);
    expect(clickLinks(html)).toHaveLength(3);
    // the last is text inside <style>, not a link (this test's pattern cannot tell)
    expect(hrefs(html).filter((h) => !h.startsWith(`${t.url}/t/c/`))).toEqual(['mailto:help@shop.example', 'tel:+15550100', '#top', '/relative/path', 'javascript:alert(1)', 'https://style.example/']);
    expect(html).toContain('<style>a[href="https://style.example/"]{color:red} <a href="https://style.example/">x</a></style>');
    expect(html.indexOf('/t/o/')).toBeLessThan(html.lastIndexOf('</body>'));
    expect(pixelOf(html)).toBeDefined();
    const row = await t.app.services.database.db.selectFrom('messages').select(['text_body', 'track_opens', 'track_clicks']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ text_body: 'Visit https://shop.example/pricing', track_opens: true, track_clicks: true });
    expect(await getEmail(id)).toMatchObject({ track_opens: true, track_clicks: true, opened_at: null, clicked_at: null, open_count: 0, click_count: 0 });
  });

  it('a click redirects (302) to exactly the signed URL, counts once per click and records the event', async () => {
    const sent = await send({ html: LINKS_HTML });
    const id = sent.body.id as string;
    const [first, second] = clickLinks(await storedHtml(id));
    const res = await fetchManual(first!, { headers: { 'user-agent': 'Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15' } });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://shop.example/pricing?plan=pro&period=year#faq');
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    const again = await fetchManual(first!);
    expect(again.headers.get('location')).toBe('https://shop.example/pricing?plan=pro&period=year#faq');
    expect((await fetchManual(second!)).headers.get('location')).toBe('http://blog.example/post');

    const email = await getEmail(id);
    expect(email).toMatchObject({ click_count: 3, open_count: 0 });
    expect(typeof email.clicked_at).toBe('string');
    const clicks = await trackingEvents(id, 'clicked');
    expect(clicks).toHaveLength(3);
    expect(clicks[0]).toMatchObject({
      recipient: 'ada@example.org',
      detail: { url: 'https://shop.example/pricing?plan=pro&period=year#faq', link_index: 0, first: true, bot: false, method: 'GET', user_agent: 'Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15' },
    });
    expect(clicks.slice(1).map((c) => c.detail!.first)).toEqual([false, false]);
    expect(clicks[2]!.detail).toMatchObject({ link_index: 1, url: 'http://blog.example/post' });

    // the list items carry the counts too
    const list = await call(`${t.url}/api/v1/emails?limit=5`, { key: ws.key });
    expect((list.body.data as { emails: { id: string; click_count: number }[] }).emails.find((e) => e.id === id)).toMatchObject({ click_count: 3 });
  });

  it('a tampered or foreign token is the 404 page, and nothing in the request can choose where a link goes', async () => {
    const id = (await send({ html: LINKS_HTML })).body.id as string;
    const html = await storedHtml(id);
    const link = clickLinks(html)[0]!;
    const token = link.split('/t/c/')[1]!;
    const [value, mac] = token.split('.') as [string, string];
    const forged = [
      `${value}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`,
      // the same email's link index 7, with the index-0 signature
      `${Buffer.from(`${id}/7`).toString('base64url')}.${mac}`,
      // the pixel's token is not a link token
      pixelOf(html)!.split('/t/o/')[1]!,
      encodeURIComponent('https://evil.example/'),
      `${token}x`,
    ];
    for (const bad of forged) {
      const res = await fetchManual(`${t.url}/t/c/${bad}`);
      expect(res.status, bad).toBe(404);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('Link not valid');
    }
    // an open-redirect attempt: extra query parameters and path tricks change nothing
    for (const url of [`${link}?url=https://evil.example/`, `${link}?redirect=https%3A%2F%2Fevil.example`, `${link}/https://evil.example/`]) {
      const res = await fetchManual(url);
      expect([302, 404], url).toContain(res.status);
      if (res.status === 302) expect(res.headers.get('location')).toBe('https://shop.example/pricing?plan=pro&period=year#faq');
    }
    expect(await getEmail(id)).toMatchObject({ click_count: 2 });
  });

  it('the pixel is a no-cache GIF for any token; a valid one counts an open, the first one `first`', async () => {
    const id = (await send({ html: '<p>Hi</p>' })).body.id as string;
    const pixel = pixelOf(await storedHtml(id))!;
    for (const url of [pixel, `${t.url}/t/o/not-a-token`, `${t.url}/t/o/${'x'.repeat(400)}.${'y'.repeat(32)}`]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/gif');
      expect(res.headers.get('cache-control')).toContain('no-store');
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.subarray(0, 6).toString()).toBe('GIF89a');
      expect(body.readUInt16LE(6)).toBe(1);
      expect(body.readUInt16LE(8)).toBe(1);
    }
    await fetch(pixel);
    const email = await getEmail(id);
    expect(email).toMatchObject({ open_count: 2, click_count: 0 });
    expect(typeof email.opened_at).toBe('string');
    const opens = await trackingEvents(id, 'opened');
    expect(opens.map((o) => [o.recipient, o.detail!.first, o.detail!.bot])).toEqual([
      ['ada@example.org', true, false],
      ['ada@example.org', false, false],
    ]);
  });

  it('HEAD requests and known bots are recorded with bot: true and kept out of the counts', async () => {
    const id = (await send({ html: '<a href="https://shop.example/">shop</a>', to: ['ada@example.org', 'bob@example.org'] })).body.id as string;
    const html = await storedHtml(id);
    const pixel = pixelOf(html)!;
    const link = clickLinks(html)[0]!;
    const head = await fetchManual(link, { method: 'HEAD' });
    expect(head.status).toBe(302);
    expect(head.headers.get('location')).toBe('https://shop.example/');
    expect((await fetch(pixel, { method: 'HEAD' })).headers.get('content-type')).toBe('image/gif');
    for (const ua of ['Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)', 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html']) {
      await fetch(pixel, { headers: { 'user-agent': ua } });
    }
    for (const ua of ['Mozilla/5.0 (compatible; BingPreview/1.0b)', 'Barracuda Sentinel (EE)', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'curl/8.5.0']) {
      expect((await fetchManual(link, { headers: { 'user-agent': ua } })).status).toBe(302);
    }
    const email = await getEmail(id);
    expect(email).toMatchObject({ open_count: 0, click_count: 0, opened_at: null, clicked_at: null });
    const events = email.events.filter((e) => e.type === 'opened' || e.type === 'clicked');
    expect(events).toHaveLength(8);
    expect(events.every((e) => e.detail!.bot === true && e.detail!.first === false)).toBe(true);
    // two recipients share the HTML: the events cannot name one
    expect(events.every((e) => e.recipient === null)).toBe(true);
    expect(events.filter((e) => e.detail!.method === 'HEAD')).toHaveLength(2);
  });

  it('the tracking routes are not throttled by the per-client limit that other unauthenticated requests meet', async () => {
    const id = (await send({ html: '<a href="https://shop.example/">shop</a>' })).body.id as string;
    const html = await storedHtml(id);
    const [pixel, link] = [pixelOf(html)!, clickLinks(html)[0]!];
    // the limit is 3 per second: 30 fetches at once are far over it
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => fetchManual(i % 2 ? pixel : link).then((r) => r.status)));
    expect(statuses.filter((s) => s === 429)).toEqual([]);
    const health = await Promise.all(Array.from({ length: 10 }, () => fetch(`${t.url}/health`).then((r) => r.status)));
    expect(health).toContain(429);
    expect(await getEmail(id)).toMatchObject({ open_count: 15, click_count: 15 });
  });

  it('records at most a bounded number of events per email and kind, and still counts every fetch', async () => {
    const id = (await send({ html: '<p>Hi</p>' })).body.id as string;
    const pixel = pixelOf(await storedHtml(id))!;
    for (let i = 0; i < RECORDED_BOTS + 5; i++) expect((await fetch(pixel, { method: 'HEAD' })).status).toBe(200);
    await fetch(pixel);
    expect(await trackingEvents(id, 'opened')).toHaveLength(RECORDED_BOTS + 1);
    const row = await t.app.services.database.db.selectFrom('messages').select(['open_count', 'bot_open_count']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ open_count: 1, bot_open_count: RECORDED_BOTS + 5 });
  });

  it('track_opens / track_clicks (and camelCase) turn either off for one send', async () => {
    const html = '<html><body><a href="https://shop.example/">shop</a></body></html>';
    const noOpens = (await send({ html, track_opens: false })).body.id as string;
    expect(pixelOf(await storedHtml(noOpens))).toBeUndefined();
    expect(clickLinks(await storedHtml(noOpens))).toHaveLength(1);
    expect(await getEmail(noOpens)).toMatchObject({ track_opens: false, track_clicks: true });

    const noClicks = (await send({ html, trackClicks: 'false' })).body.id as string;
    expect(pixelOf(await storedHtml(noClicks))).toBeDefined();
    expect(hrefs(await storedHtml(noClicks))).toEqual(['https://shop.example/']);

    const neither = (await send({ html, trackOpens: false, track_clicks: false })).body.id as string;
    expect(await storedHtml(neither)).toBe(html);
    expect(await getEmail(neither)).toMatchObject({ track_opens: false, track_clicks: false });

    // text-only: nothing to track
    const text = (await send({ text: 'https://shop.example/' })).body.id as string;
    expect(await getEmail(text)).toMatchObject({ track_opens: false, track_clicks: false });

    const bad = await send({ html, track_opens: 'yes' });
    expect([bad.status, bad.body.error, bad.body.message]).toEqual([400, 'VALIDATION_ERROR', "Field 'track_opens' must be true or false"]);
  });

  it('a workspace whose default is off sends untracked unless a send asks; scheduled sends too', async () => {
    const other = await t.workspace();
    const changed = await t.app.services.workspaces.setTracking(other.id, { opens: 'off', clicks: 'OFF' });
    expect(changed.tracking).toEqual({ opens: false, clicks: false });
    const html = '<a href="https://shop.example/">shop</a>';
    const plain = (await send({ html }, other.key)).body.id as string;
    expect(await storedHtml(plain)).toBe(html);
    expect(await getEmail(plain, other.key)).toMatchObject({ track_opens: false, track_clicks: false });
    const asked = (await send({ html, track_clicks: true }, other.key)).body.id as string;
    expect(clickLinks(await storedHtml(asked))).toHaveLength(1);
    expect(pixelOf(await storedHtml(asked))).toBeUndefined();

    const scheduled = await call(`${t.url}/api/v1/send-email/schedule`, {
      key: ws.key,
      body: { email: { to: 'ada@example.org', subject: 'later', html, track_opens: false }, scheduled_at: new Date(Date.now() + 3600_000).toISOString() },
    });
    expect(scheduled.status, scheduled.text).toBe(200);
    const later = await storedHtml(scheduled.body.id as string);
    expect(clickLinks(later)).toHaveLength(1);
    expect(pixelOf(later)).toBeUndefined();

    await expect(t.app.services.workspaces.setTracking(other.id, { opens: 'maybe' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it("a template's {{unsubscribeUrl}} and {{viewInBrowserUrl}} stay as they are; its other links are tracked", async () => {
    const saved = await call(`${t.url}/api/v1/templates/save`, {
      key: ws.key,
      body: { name: 'Tracked template', subject: 'Hi {{name}}', html: '<p>Hi {{name}}</p><a href="https://shop.example/{{name}}">shop</a><a href="{{unsubscribeUrl}}">unsubscribe</a><a href="{{viewInBrowserUrl}}">view</a>' },
    });
    expect(saved.status, saved.text).toBe(200);
    const id = (await send({ template_id: (saved.body.data as { id: string }).id, params: { name: 'ada' } })).body.id as string;
    const links = hrefs(await storedHtml(id));
    expect(links[0]!.startsWith(`${t.url}/t/c/`)).toBe(true);
    expect(links[1]!.startsWith(`${t.url}/u/`)).toBe(true);
    expect(links[2]!.startsWith(`${t.url}/v/`)).toBe(true);
    expect((await fetchManual(links[0]!)).headers.get('location')).toBe('https://shop.example/ada');
  });
});

describe.each(BACKENDS)('tracking large and hostile HTML, and under a DKIM signature, on %s', (backend) => {
  let t: TestApp;
  let dns: TestDnsServer;
  let relay: SmtpSink;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    dns = await startDnsServer();
    relay = await startSmtpSink();
    t = await startTestApp({ backend, env: { SMTP_URL: `smtp://127.0.0.1:${relay.port}`, DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY } });
    ws = await t.workspace();
  });
  afterAll(async () => {
    await t?.close();
    await relay?.close();
    await dns?.close();
  });

  const send = (body: Record<string, unknown>) => call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'ada@example.org', subject: 'Tracked', ...body } });
  const storedHtml = async (id: string) => (await t.app.services.database.db.selectFrom('messages').select('html').where('id', '=', id).executeTakeFirstOrThrow()).html ?? '';
  it('a megabyte of "<a", deep nesting and 5,000 links are tracked on a content thread while /health keeps answering', async () => {
    const cases = [
      { html: '<a'.repeat(500_000), links: 0 },
      { html: `${'<div>'.repeat(100_000)}<a href="https://deep.example/">x</a>${'</div>'.repeat(100_000)}`, links: 1 },
      { html: Array.from({ length: 5000 }, (_, i) => `<a href="https://many.example/${i}">${i}</a>`).join(''), links: 1000 },
    ];
    const { result, health } = await whileProbingHealth(t.url, async () => {
      const out: string[] = [];
      for (const c of cases) {
        const res = await send({ html: c.html });
        expect(res.status, res.text.slice(0, 200)).toBe(200);
        out.push(res.body.id as string);
      }
      return out;
    });
    expect(health).toMatchObject({ failures: 0 });
    expect(health.slowestMs).toBeLessThan(HEALTH_WITHIN_MS);
    // counted with plain searches: a pattern over a megabyte of "<a" would be the slow part of this test
    const occurrences = (html: string, what: string) => html.split(what).length - 1;
    for (const [i, id] of result.entries()) {
      const html = await storedHtml(id);
      expect(occurrences(html, `"${t.url}/t/c/`), `case ${i}`).toBe(cases[i]!.links);
      expect(occurrences(html, `<img src="${t.url}/t/o/`), `case ${i}`).toBe(1);
    }
    // links past the first 1,000 are left as they are
    const many = await storedHtml(result[2]!);
    expect(many.includes('<a href="https://many.example/1000">')).toBe(true);
    expect(many.includes('<a href="https://many.example/999">')).toBe(false);
    await relay.waitFor(3, 30_000);
    relay.messages.length = 0;
  });

  it('delivers the tracked HTML signed: the DKIM signature verifies and the links are /t/c/ links', async () => {
    // only this test's email: a test before it that failed may have left its own in the relay
    relay.messages.length = 0;
    const added = await call(`${t.url}/api/v1/public/domains/add-domain`, { key: ws.adminKey, body: { domain: 'tracked.test', region: 'us-east-1' } });
    expect(added.status, added.text).toBe(200);
    const domain = added.body.data as ApiDomain;
    publish(dns, domain.dns_records);
    const verified = await call(`${t.url}/api/v1/public/domains/verify-domain/${domain.id}`, { method: 'POST', key: ws.adminKey, body: {} });
    expect((verified.body.data as ApiDomain).verification_status).toBe('verified');

    const sent = await call(`${t.url}/api/v1/send-email/instant`, {
      key: ws.key,
      body: { to: 'user@example.org', from: 'Shop <orders@tracked.test>', subject: 'Your order', html: '<html><body><p>Thanks!</p><a href="https://tracked.test/orders/1?x=1&amp;y=2">Your order</a></body></html>' },
    });
    expect(sent.status, sent.text).toBe(200);
    const [msg] = await relay.waitFor(1);
    const raw = msg!.raw.toString();
    expect(raw.startsWith('DKIM-Signature: v=1;')).toBe(true);
    const html = decodedPart(raw, 'text/html')!;
    const link = hrefs(html)[0]!;
    expect(link.startsWith(`${t.url}/t/c/`)).toBe(true);
    expect(html).toContain(`${t.url}/t/o/`);
    const verdict = await receiverVerdict(dns, msg!.raw, msg!.from);
    expect(verdict.dkim.results[0]!.status.result, verdict.dkim.results[0]!.info).toBe('pass');
    expect(verdict.dkim.results[0]!.signingDomain).toBe('tracked.test');

    const res = await fetch(link, { redirect: 'manual' });
    expect(res.headers.get('location')).toBe('https://tracked.test/orders/1?x=1&y=2');
  });
});
