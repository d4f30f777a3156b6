import { afterEach, describe, expect, it } from 'vitest';
import { call, startTestApp, type ApiResponse, type TestApp } from './support/app.js';

/**
 * The unauthenticated limit counts request.ip: the forwarded client address when TRUST_PROXY trusts the peer
 * (here every request comes from 127.0.0.1), the socket's address otherwise. The limiter works in one-second
 * windows, so each round starts just after a second begins and is repeated if it still straddled two.
 */
async function inOneWindow(send: () => Promise<ApiResponse[]>): Promise<ApiResponse[]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const answers = await send();
    if (new Set(answers.map((a) => a.headers.get('x-ratelimit-reset'))).size === 1) return answers;
  }
  throw new Error('could not fit the requests into one rate-limit window');
}

describe('TRUST_PROXY and the per-address limit', () => {
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  /**
   * Four requests forwarded for one client, then one for another, then one from a third client that claims
   * to be the first in its own X-Forwarded-For (the proxy appends the real address); a limit of 3 per second.
   */
  async function round(trustProxy: string | null): Promise<{ first: number[]; other: ApiResponse; claiming: ApiResponse }> {
    t = await startTestApp({ backend: 'pglite', env: { UNAUTHENTICATED_REQUESTS_PER_SECOND: '3', ...(trustProxy ? { TRUST_PROXY: trustProxy } : {}) } });
    const health = (client: string) => call(`${t!.url}/health`, { headers: { 'x-forwarded-for': client } });
    const answers = await inOneWindow(async () => {
      const out: ApiResponse[] = [];
      for (let i = 0; i < 4; i++) out.push(await health('203.0.113.7'));
      out.push(await health('198.51.100.20'));
      out.push(await health('203.0.113.7, 198.51.100.21'));
      return out;
    });
    return { first: answers.slice(0, 4).map((a) => a.status), other: answers[4]!, claiming: answers[5]! };
  }

  for (const trustProxy of ['127.0.0.1', 'loopback', '1']) {
    it(`counts each forwarded client separately with TRUST_PROXY=${trustProxy}, by the address the proxy saw`, async () => {
      const { first, other, claiming } = await round(trustProxy);
      expect(first).toEqual([200, 200, 200, 429]);
      expect(other.status).toBe(200);
      expect(other.headers.get('x-ratelimit-remaining')).toBe('2');
      expect(claiming.status).toBe(200);
    });
  }

  it('with TRUST_PROXY=true takes the first forwarded address, whoever wrote it', async () => {
    const { first, other, claiming } = await round('true');
    expect(first).toEqual([200, 200, 200, 429]);
    expect(other.status).toBe(200);
    expect(claiming.status).toBe(429);
  });

  for (const trustProxy of [null, '10.0.0.0/8']) {
    it(`ignores X-Forwarded-For from a peer it does not trust (TRUST_PROXY=${trustProxy ?? 'unset'}): one limit for the socket address`, async () => {
      const { first, other, claiming } = await round(trustProxy);
      expect(first).toEqual([200, 200, 200, 429]);
      expect(other.status).toBe(429);
      expect(claiming.status).toBe(429);
    });
  }
});
