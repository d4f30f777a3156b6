import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { chromiumInstalled, launchBrowser } from './support/browser.js';

const available = chromiumInstalled();
// CI installs Chromium (.ci/run); elsewhere the suite says in its name that it did not run
if (!available && process.env.CI) throw new Error('Chromium is missing: .ci/run installs it (apt-get install chromium)');

/**
 * The hosted pages in a real browser. The view-in-browser page serves a tenant's HTML on our origin. In a real browser it must not redirect,
 * submit a form, run script or be framed: a phishing page on our name is exactly what an attacker would send.
 */
describe.skipIf(!available)(`hosted view page in a real browser${available ? '' : ' (skipped: no Chromium at /usr/bin/chromium; CI always runs it)'}`, () => {
  let t: TestApp;
  let browser: Browser;
  let elsewhere: http.Server;
  let elsewhereUrl: string;
  const hits: string[] = [];

  beforeAll(async () => {
    elsewhere = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      if (req.url === '/framer') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<iframe id="f" src="${(req.headers['x-target'] as string | undefined) ?? ''}"></iframe>`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>elsewhere</h1>');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    t = await startTestApp({ backend: 'pglite' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await new Promise((resolve) => elsewhere?.close(resolve));
  });

  async function viewUrlOf(html: string): Promise<string> {
    const ws = await t.workspace();
    const res = await call(`${t.url}/api/v1/send-email/instant`, { key: ws.key, body: { to: 'reader@example.com', subject: 'Your account', html } });
    expect(res.status).toBe(200);
    return `${t.url}/v/${t.app.services.tokens.sign('view', res.body.id as string)}`;
  }

  it('does not follow a refresh redirect, submit a form or run script', async () => {
    const html =
      `<meta http-equiv="refresh" content="0;url=${elsewhereUrl}/meta-refresh">` +
      `<META HTTP-EQUIV='Refresh' CONTENT='0; URL=${elsewhereUrl}/meta-refresh-2'>` +
      `<h1 id="title">Please sign in again</h1>` +
      `<form action="${elsewhereUrl}/phish" method="post"><input name="password" value="hunter2"><button id="go" type="submit">Sign in</button></form>` +
      `<script>fetch('${elsewhereUrl}/script')</script><img src="${elsewhereUrl}/missing.png" onerror="fetch('${elsewhereUrl}/onerror')">`;
    const url = await viewUrlOf(html);
    const page = await browser.newPage();
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    expect(await page.textContent('#title', { timeout: 5000 })).toBe('Please sign in again');
    await page.waitForTimeout(1500);
    await page.click('#go', { timeout: 2000 }).catch(() => undefined);
    await page.waitForTimeout(1000);
    expect(page.url()).toBe(url);
    expect(hits.filter((h) => !h.startsWith('GET /missing.png'))).toEqual([]);
    await page.close();
  });

  it('cannot be framed by another site', async () => {
    const url = await viewUrlOf('<h1 id="title">Framed?</h1>');
    const page = await browser.newPage();
    await page.setExtraHTTPHeaders({ 'x-target': url });
    await page.goto(`${elsewhereUrl}/framer`);
    await page.waitForTimeout(1000);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    const framedTitle = await frame?.textContent('#title', { timeout: 500 }).catch(() => null);
    expect(framedTitle ?? null).toBeNull();
    await page.close();
  });

  it('the subscribe form works by hand: labelled fields, the honeypot out of sight and out of the tab order, no CSP complaint', async () => {
    const ws = await t.workspace();
    const audience = await t.app.services.audiences.create(ws.id, { name: 'Browser list' });
    const page = await browser.newPage();
    const complaints: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') complaints.push(m.text());
    });
    expect((await page.goto(audience.subscribe_url))?.status()).toBe(200);
    expect(await page.textContent('h1')).toBe('Subscribe to Browser list');
    await page.getByLabel('Email address').fill('browser@example.com');
    await page.getByLabel('Name (optional)').fill('Ada Lovelace');
    // Tab from the name goes to the button, past the honeypot; people cannot see it either
    await page.getByLabel('Name (optional)').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('BUTTON');
    const box = await page.locator('#website').boundingBox();
    expect(box === null || box.x + box.width <= 0).toBe(true);
    await Promise.all([page.waitForURL(audience.subscribe_url), page.getByRole('button', { name: 'Subscribe' }).click()]);
    expect(await page.textContent('h1')).toBe('Thank you');
    const db = t.app.services.database.db;
    const contact = await db.selectFrom('contacts').selectAll().where('workspace_id', '=', ws.id).where('email_key', '=', 'browser@example.com').executeTakeFirstOrThrow();
    expect(contact).toMatchObject({ first_name: 'Ada', last_name: 'Lovelace' });
    const member = await db.selectFrom('audience_members').select('status').where('audience_id', '=', audience.id).where('contact_id', '=', contact.id).executeTakeFirstOrThrow();
    expect(member.status).toBe('subscribed');
    expect(complaints).toEqual([]);
    await page.close();
  });

  it('a double opt-in confirmation needs the button: opening the link confirms nothing', async () => {
    const ws = await t.workspace();
    const audience = await t.app.services.audiences.create(ws.id, { name: 'Browser double', doubleOptIn: true });
    const page = await browser.newPage();
    await page.goto(audience.subscribe_url);
    await page.getByLabel('Email address').fill('double@example.com');
    await Promise.all([page.waitForURL(audience.subscribe_url), page.getByRole('button', { name: 'Subscribe' }).click()]);
    expect(await page.textContent('h1')).toBe('Check your inbox');
    const db = t.app.services.database.db;
    const contact = await db.selectFrom('contacts').select('id').where('workspace_id', '=', ws.id).where('email_key', '=', 'double@example.com').executeTakeFirstOrThrow();
    const status = async () => (await db.selectFrom('audience_members').select('status').where('audience_id', '=', audience.id).where('contact_id', '=', contact.id).executeTakeFirstOrThrow()).status;
    const link = `${t.url}/s/confirm/${t.app.services.subscribe.confirmToken(ws.id, audience.id, contact.id)}`;
    await page.goto(link);
    expect(await status()).toBe('pending');
    await Promise.all([page.waitForURL(link), page.getByRole('button', { name: 'Confirm subscription' }).click()]);
    expect(await page.textContent('h1')).toBe('Subscription confirmed');
    expect(await status()).toBe('subscribed');
    await page.close();
  });
});
