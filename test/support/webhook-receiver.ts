import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedHook {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  payload: Record<string, unknown>;
  at: number;
}

/** What a path answers: a status (and body), or a function deciding per request; may wait first. */
export type Answer = { status: number; body?: string; headers?: Record<string, string>; waitFor?: Promise<unknown> };

/** A webhook receiver on 127.0.0.1 that keeps every request and answers per path (200 "ok" by default). */
export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedHook[];
  on(path: string, answer: (hook: ReceivedHook, nth: number) => Answer): void;
  at(path: string): ReceivedHook[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const answers = new Map<string, (hook: ReceivedHook, nth: number) => Answer>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let payload: Record<string, unknown> = {};
      try {
        payload = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // kept as received
      }
      const path = req.url ?? '/';
      const hook: ReceivedHook = { path, headers: req.headers, body, payload, at: Date.now() };
      received.push(hook);
      const nth = received.filter((h) => h.path === path).length;
      const answer = answers.get(path)?.(hook, nth) ?? { status: 200, body: 'ok' };
      void Promise.resolve(answer.waitFor).then(() => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    on: (path, answer) => answers.set(path, answer),
    at: (path) => received.filter((h) => h.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const hex = (key: string, data: string) => createHmac('sha256', key).update(data).digest('hex');

/** Checks a request as a receiver following spec §9 would, for the endpoint's scheme; true when it verifies. */
export function verifiesKeplars(hook: ReceivedHook, secret: string, scheme: 's1' | 's2' | 's3'): boolean {
  const sig = String(hook.headers['x-keplars-signature']);
  const ts = String(hook.headers['x-keplars-timestamp']);
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  if (scheme === 's1') return sig === hex(secret, hook.body);
  if (scheme === 's2') return sig === hex(secret, `${ts}.${hook.body}`);
  return sig === `sha256=${hex(secret, hook.body)}`;
}

/** The `standardwebhooks` package's own verifier; throws when the request does not verify. */
export function verifyStandard(hook: ReceivedHook, secret: string): unknown {
  return new Webhook(secret).verify(hook.body, {
    'webhook-id': String(hook.headers['webhook-id']),
    'webhook-timestamp': String(hook.headers['webhook-timestamp']),
    'webhook-signature': String(hook.headers['webhook-signature']),
  });
}
