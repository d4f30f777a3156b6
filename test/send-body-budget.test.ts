import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { RawConnection } from './support/raw-http.js';

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(BACKENDS)('the budget of send bodies being received and processed at once, on %s', (backend) => {
  let t: TestApp;
  let ws: { id: string; adminKey: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { SEND_BODY_BUDGET_MB: '60', SEND_BODY_WAIT_MS: '1500' } });
    ws = await t.workspace();
  });
  afterAll(() => t?.close());

  /** An authenticated send whose 50 MB body is on its way: it holds 50 MB of the budget until it closes. */
  async function holdBudget(mb: number): Promise<RawConnection> {
    const c = await RawConnection.open(t.url);
    c.write(`POST /api/v1/send-email/async HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.key}\r\nContent-Type: application/json\r\nContent-Length: ${mb * MB}\r\n\r\n{"to":`);
    await sleep(300);
    return c;
  }

  const sendWithAttachment = (mb: number, key = ws.key) =>
    call(`${t.url}/api/v1/send-email/async`, { key, body: { to: 'a@example.test', subject: 'big', body: 'b', attachments: [{ filename: 'a.bin', content: Buffer.alloc(mb * MB, 1).toString('base64') }] } });

  it('a large send that does not fit waits, then gets 503 SERVICE_UNAVAILABLE with Retry-After', async () => {
    const holder = await holdBudget(50);
    try {
      const started = Date.now();
      const refused = await sendWithAttachment(10); // ~13.4 MB of JSON: 50 + 13.4 > 60
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ success: false, error: 'SERVICE_UNAVAILABLE', code: 'SERVICE_UNAVAILABLE' });
      expect(refused.headers.get('retry-after')).toBe('1');
      // bodies up to 1 MB are not counted, and nothing that is not a send body is
      const small = await call(`${t.url}/api/v1/send-email/async`, { key: ws.key, body: { to: 'a@example.test', subject: 's', body: 'x'.repeat(900 * 1024) } });
      expect(small.status).toBe(200);
      expect((await call(`${t.url}/health`)).status).toBe(200);
      // the budget is taken after authentication: a client without a key cannot hold or wait for it
      const anonymous = await call(`${t.url}/api/v1/send-email/async`, { rawBody: JSON.stringify({ to: 'a@example.test', pad: 'x'.repeat(20 * MB) }), headers: { 'content-type': 'application/json' } });
      expect(anonymous.status).toBe(401);
    } finally {
      holder.destroy();
    }
  });

  it('a waiting send proceeds as soon as the budget is given back', async () => {
    const holder = await holdBudget(50);
    const pending = sendWithAttachment(10);
    await sleep(400);
    holder.destroy(); // the held body's connection closes: its share returns
    const res = await pending;
    expect(res.status).toBe(200);
  });

  it('the budget is whole again once answers are finished', async () => {
    for (let i = 0; i < 3; i++) expect((await sendWithAttachment(10)).status).toBe(200);
    (await holdBudget(50)).destroy();
    const holder = await holdBudget(50);
    try {
      // 50 + 6.7 MB fit in 60 only if nothing was left behind
      expect((await sendWithAttachment(5)).status).toBe(200);
    } finally {
      holder.destroy();
    }
  });

  it('a declared length over the route limit is refused at once, not after waiting', async () => {
    const holder = await holdBudget(50);
    try {
      const c = await RawConnection.open(t.url);
      c.write(`POST /api/v1/send-email/async HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.key}\r\nContent-Type: application/json\r\nContent-Length: ${61 * MB}\r\n\r\n{`);
      const started = Date.now();
      await c.closedWithin(5_000);
      expect(c.answer()?.status).toBe(413);
      expect(Date.now() - started).toBeLessThan(1_000);
      c.destroy();
    } finally {
      holder.destroy();
    }
  });

  it('a chunked body is counted as it arrives beyond its first MB: over the budget it is refused without waiting', async () => {
    const chunked = async (content: string) => {
      const c = await RawConnection.open(t.url);
      c.write(`POST /api/v1/send-email/async HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const body = Buffer.from(JSON.stringify({ to: 'a@example.test', subject: 's', body: 'b', metadata: { n: 1 }, attachments: [{ filename: 'a.bin', content }] }));
      for (let at = 0; at < body.length && !c.closed; at += MB) {
        const part = body.subarray(at, at + MB);
        c.write(`${part.length.toString(16)}\r\n`);
        c.write(part);
        c.write('\r\n');
        await sleep(5);
      }
      if (!c.closed) c.write('0\r\n\r\n');
      // kept alive: the answer, not the end of the connection, says it is done (a refused body is drained)
      const answer = await waitFor(async () => c.answer() ?? (c.closed ? 'closed' : null), { timeoutMs: 30_000 });
      c.destroy();
      return answer === 'closed' ? null : answer;
    };
    const holder = await holdBudget(50);
    try {
      expect((await chunked(Buffer.alloc(100_000, 1).toString('base64')))?.status).toBe(200);
      const refused = await chunked(Buffer.alloc(12 * MB, 1).toString('base64'));
      expect(refused?.status).toBe(503);
      expect(JSON.parse(refused!.body)).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      holder.destroy();
    }
    await sleep(200);
    expect((await chunked(Buffer.alloc(12 * MB, 1).toString('base64')))?.status).toBe(200);
  });
});
