import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestApp, type TestApp } from './support/app.js';
import { BACKENDS } from './support/databases.js';
import { startSmtpSink, type ReceivedMessage, type SmtpSink } from './support/smtp-sink.js';

/** How long the sink takes over each message, so deliveries in flight together overlap at the sink. */
const SINK_DELAY_MS = 200;

/** Most messages the sink was taking at once: each was in its hands for SINK_DELAY_MS before it was recorded. */
function mostAtOnce(messages: ReceivedMessage[]): number {
  const times = messages.map((m) => m.receivedAt).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0; i < times.length; i++) {
    // a message recorded within the delay after another was in the sink's hands while that one was
    let together = 1;
    while (i + together < times.length && times[i + together]! - times[i]! < SINK_DELAY_MS * 0.8) together++;
    most = Math.max(most, together);
  }
  return most;
}

// Bulk mail is background work (its tier's promise: when the queue is idle). While instant mail flows, the shared
// lane delivers at most BACKGROUND_SHARE of its slots' worth of bulk at once, and the other tiers keep every slot
// (README, "Priority tiers and the queue").
describe.each(BACKENDS)('bulk mail gives way to instant mail on %s', (backend) => {
  let sink: SmtpSink;
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    sink = await startSmtpSink({ delayMs: SINK_DELAY_MS });
    // 10 slots and a share of 0.2: 2 bulk emails at once while paced. No polling: a lane looks for email only
    // when a wake or a freed slot makes it
    t = await startTestApp({
      backend,
      env: { SMTP_URL: `smtp://127.0.0.1:${sink.port}`, WORKER_CONCURRENCY: '10', SMTP_MAX_CONNECTIONS: '5', BACKGROUND_SHARE: '0.2', DELIVERY_POLL_MS: '3600000' },
    });
    key = (await t.workspace()).key;
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  /** Sends `count` emails to a tier at once and returns what the sink received of them. */
  async function sendAndReceive(tier: string, count: number): Promise<ReceivedMessage[]> {
    const before = sink.messages.length;
    const sent = await Promise.all(Array.from({ length: count }, (_, i) => call(`${t.url}/api/v1/send-email/${tier}`, { key, body: { to: `r${i}@example.test`, subject: `${tier} ${i}`, body: 'b' } })));
    for (const res of sent) expect(res.status).toBe(200);
    return (await sink.waitFor(before + count, 15_000)).slice(before);
  }

  it('delivers bulk side by side without instant mail, two at a time while instant mail flows, and the other tiers side by side', async () => {
    const pacer = t.app.services.pacer;
    expect(pacer.pacing).toBe(false);
    expect(mostAtOnce(await sendAndReceive('bulk', 8))).toBeGreaterThanOrEqual(3);

    pacer.noteInstant();
    expect(pacer.pacing).toBe(true);
    const paced = await sendAndReceive('bulk', 8);
    expect(paced).toHaveLength(8);
    expect(mostAtOnce(paced)).toBeLessThanOrEqual(2);

    pacer.noteInstant();
    expect(mostAtOnce(await sendAndReceive('async', 8))).toBeGreaterThanOrEqual(3);
  });

  it('sends a high-priority email at once while a round of paced bulk is going out', async () => {
    // bulk takes the sink 2 s, the high-priority email nothing: a high one held until the round ends would take over a second
    sink.setDelay((to) => (to.some((r) => r.startsWith('r')) ? 2000 : 0));
    try {
      t.app.services.pacer.noteInstant();
      const before = sink.messages.length;
      const bulk = sendAndReceive('bulk', 4);
      await new Promise((resolve) => setTimeout(resolve, 300));
      t.app.services.pacer.noteInstant();
      const sentAt = Date.now();
      const high = await call(`${t.url}/api/v1/send-email/high`, { key, body: { to: 'urgent@example.test', subject: 'high', body: 'b' } });
      expect(high.status).toBe(200);
      const [first] = (await sink.waitFor(before + 1, 15_000)).slice(before);
      expect(first?.to).toEqual(['urgent@example.test']);
      expect(first!.receivedAt - sentAt).toBeLessThan(1000);
      expect(await bulk).toHaveLength(4);
    } finally {
      sink.setDelay(SINK_DELAY_MS);
    }
  });
});
