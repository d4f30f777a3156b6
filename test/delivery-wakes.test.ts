import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, waitFor, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { ANY_TOPIC } from '../src/platform/queue/signal.js';

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A claim costs a query, so the delivery lanes look for email when the queue signal announces email, not for
// every job or webhook committed (README, "Priority tiers and the queue"). The poller is turned off here, so an
// email that falls due goes out only when a wake makes a lane look.
describe.each(BACKENDS)('delivery lanes wake on %s', (backend) => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ backend, env: { SCHEDULE_MIN_SECONDS: '1', DELIVERY_POLL_MS: '3600000' } });
    key = (await t.workspace('LAUNCH')).key;
  });
  afterAll(() => t?.close());

  const status = async (id: string) => (await call(`${t.url}/api/v1/public/emails/get-email?id=${id}`, { key })).body.status as string;

  /** An email that falls due two seconds from now, with nothing to announce it when it does. */
  async function dueSoon(priority: string): Promise<string> {
    const res = await call(`${t.url}/api/v1/send-email/schedule`, { key, body: { to: 'a@example.test', subject: 'due', body: 'b', scheduled_at: inSeconds(2), priority } });
    expect(res.status).toBe(200);
    const id = res.body.id as string;
    await sleep(Date.parse(res.body.scheduled_at as string) + 300 - Date.now());
    return id;
  }

  it('leaves a due email alone on wakes for jobs and webhooks, and sends it on its tier’s wake', async () => {
    const id = await dueSoon('bulk');
    t.app.services.signal.wakeLocal('jobs');
    t.app.services.signal.wakeLocal('webhooks');
    await sleep(500);
    expect(await status(id)).toBe('scheduled');
    t.app.services.signal.wakeLocal('bulk');
    await waitFor(async () => (await status(id)) !== 'scheduled', { what: 'the bulk email to be claimed' });
  });

  it('sends a due email on the wake of a higher tier (the shared lane takes every tier) and after a lost signal', async () => {
    const bulk = await dueSoon('bulk');
    t.app.services.signal.wakeLocal('instant');
    await waitFor(async () => (await status(bulk)) !== 'scheduled', { what: 'the bulk email to be claimed on an instant wake' });
    const other = await dueSoon('async');
    t.app.services.signal.wakeLocal(ANY_TOPIC);
    await waitFor(async () => (await status(other)) !== 'scheduled', { what: 'the email to be claimed after a lost signal' });
  });
});
