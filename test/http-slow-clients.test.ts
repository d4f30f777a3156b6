import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { RawConnection } from './support/raw-http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `text` one byte at a time every `everyMs` until the connection closes or the text ends. */
async function trickle(c: RawConnection, text: string, everyMs: number): Promise<void> {
  for (const ch of text) {
    if (c.closed) return;
    c.write(ch);
    await sleep(everyMs);
  }
}

describe('slow clients are cut off by the configured timeouts', () => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({
      backend: 'pglite',
      env: { HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '2000', HTTP_IDLE_TIMEOUT_MS: '1000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '500' },
    });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  const sendHead = (length: number) =>
    `POST /api/v1/send-email/async HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.key}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

  it('a client trickling its headers is answered 408 REQUEST_TIMEOUT and closed', async () => {
    const c = await RawConnection.open(t.url);
    void trickle(c, `GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`, 50);
    expect(await c.closedWithin(5_000)).toBe(true);
    const answer = c.answer();
    expect(answer?.status).toBe(408);
    expect(JSON.parse(answer!.body)).toMatchObject({ success: false, error: 'REQUEST_TIMEOUT', code: 'REQUEST_TIMEOUT' });
  });

  it('a client trickling its body (a byte every 200 ms, never idle) is cut off at the request timeout', async () => {
    const body = JSON.stringify({ to: 'a@example.test', subject: 's', body: 'x'.repeat(500) });
    const c = await RawConnection.open(t.url);
    c.write(sendHead(body.length));
    const started = Date.now();
    void trickle(c, body, 200);
    expect(await c.closedWithin(8_000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500); // the idle timeout (1 s) never fired
    expect(c.answer()?.status).toBe(408);
  });

  it('a connection that goes silent in the middle of a body is closed at the idle timeout', async () => {
    const c = await RawConnection.open(t.url);
    c.write(sendHead(100));
    c.write('{"to":');
    const started = Date.now();
    expect(await c.closedWithin(8_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_900); // before the 2 s request timeout
  });

  it('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const c = await RawConnection.open(t.url);
    c.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(200);
    expect(c.answer()?.status).toBe(200);
    expect(await c.closedWithin(5_000)).toBe(true);
  });

  it('normal requests keep working, a large send body included', async () => {
    const health = await call(`${t.url}/health`);
    expect(health.status).toBe(200);
    const attachment = Buffer.alloc(8 * 1024 * 1024, 7).toString('base64');
    const sent = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', subject: 's', body: 'b', attachments: [{ filename: 'a.bin', content: attachment }] } });
    expect(sent.status).toBe(200);
  });
});

describe('the connection cap', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ backend: 'pglite', roles: { api: true, worker: false }, env: { HTTP_MAX_CONNECTIONS: '3' } });
  });
  afterAll(() => t?.close());

  it('refuses a connection over the cap and accepts again once one closes', async () => {
    const held = await Promise.all([1, 2, 3].map(() => RawConnection.open(t.url)));
    await sleep(100);
    const over = await RawConnection.open(t.url);
    over.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await over.closedWithin(3_000)).toBe(true);
    expect(over.received).toBe('');
    held[0]!.destroy();
    await sleep(100);
    const again = await RawConnection.open(t.url);
    again.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await again.closedWithin(3_000);
    expect(again.answer()?.status).toBe(200);
    for (const c of held) c.destroy();
  });
});
