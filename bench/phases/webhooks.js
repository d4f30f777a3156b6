// Figure 8: webhooks. (a) Webhook deliveries/s to a loopback receiver: N emails are scheduled for tomorrow with
// no worker running, in a workspace whose one endpoint is subscribed to `email.scheduled`, so N events wait in
// the outbox and no email is due; one `worker` process starts and the clock runs from its spawn until the
// receiver has all N (fan-out, signing, POSTs and recording each attempt). (b) The accept and
// delivery figures with one endpoint subscribed to every event, next to the same run's figures without any:
// accepted emails/s on /send-email/async (autocannon), and emails/s delivered to an SMTP sink by one worker
// (which also sends every webhook of those emails). Each side BENCH_ROUNDS times, alternately; medians.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { clearTimeout, setTimeout } from 'node:timers';
import { settle, startCpu } from '../lib/cpu.js';
import { provision } from '../lib/db.js';
import { EMAIL, enqueue, runLoad, sendHeaders } from '../lib/load.js';
import { runCli, serverEnv, startServer, stop, waitForReady } from '../lib/processes.js';
import { startSink } from '../lib/sink.js';
import { alternateRounds, roundsSetting } from '../lib/rounds.js';
import { round } from '../lib/stats.js';

export const SETTINGS = { deliveries: 5_000, emails: 3_000, enqueueConcurrency: 50, connections: 100, warmupSec: 2, durationSec: 5, maxRequests: 2_000_000, timeoutMs: 120_000 };
export const GOALS = { deliveriesPerSecond: 500, withWebhooksRatio: 0.9 };

const SECRET_KEY = randomBytes(32).toString('hex');
const webhookEnv = (extra) => serverEnv({ SECRET_KEY, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', ...extra });

/** A receiver in this process: answers 200 at once and keeps the first arrival time of each webhook-id. */
async function startReceiver() {
  const arrivals = new Map();
  let total = 0;
  const waiters = new Set();
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      total++;
      const id = String(req.headers['webhook-id']);
      if (!arrivals.has(id)) arrivals.set(id, Date.now());
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      for (const w of waiters) w();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    arrivals,
    total: () => total,
    /** resolves with the time the n-th distinct delivery arrived */
    waitFor(n, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (arrivals.size >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(Math.max(...arrivals.values()));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the receiver had ${arrivals.size} of ${n} deliveries after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function addEndpoint(db, url, events) {
  await runCli(['webhook', 'add', '--workspace', db.workspaceId, '--url', url, '--events', events, '--json'], webhookEnv({ DATABASE_URL: db.url }));
}

/** Accepts `count` emails (to `tier`) through a short-lived `api` process. */
async function accept(db, count, tier = 'async', email = EMAIL) {
  const api = startServer('api', 'api', webhookEnv({ DATABASE_URL: db.url, PORT: '0' }));
  try {
    const { url } = await waitForReady(api);
    const queued = await enqueue({ baseUrl: url, secretKey: db.secretKey, tier, count, concurrency: SETTINGS.enqueueConcurrency, timeoutMs: 60_000, email });
    if (queued.ids.length === 0) throw new Error(`could not queue any email: ${JSON.stringify(queued.failures)}`);
    return queued;
  } finally {
    await stop(api);
  }
}

async function deliveriesPerSecond(receiver) {
  const db = await provision('webhooks_rate');
  await addEndpoint(db, receiver.url, 'email.scheduled');
  const queued = await accept(db, SETTINGS.deliveries, 'schedule', { ...EMAIL, scheduled_at: new Date(Date.now() + 86_400_000).toISOString() });
  await settle('webhooks/deliveries');
  const spawnedAt = Date.now();
  const worker = startServer('worker', 'worker', webhookEnv({ DATABASE_URL: db.url }));
  try {
    const cpu = startCpu({ worker });
    const ready = await waitForReady(worker);
    const doneAt = await receiver.waitFor(queued.ids.length, SETTINGS.timeoutMs);
    const n = queued.ids.length;
    return { deliveries: n, perSecond: n / ((doneAt - spawnedAt) / 1000), perSecondAfterReady: n / ((doneAt - ready.at) / 1000), requests: receiver.total(), cpu: cpu(), workerLog: worker.problems };
  } finally {
    await stop(worker);
  }
}

/** Accepted emails/s (autocannon) on a fresh database, with or without an endpoint for every event. */
async function acceptRate(label, receiver) {
  const db = await provision(`webhooks_accept_${label}`.replace(/[^a-z0-9_]/g, '_'));
  if (receiver) await addEndpoint(db, receiver.url, '*');
  const api = startServer('api', 'api', webhookEnv({ DATABASE_URL: db.url, PORT: '0' }));
  try {
    const { url } = await waitForReady(api);
    await settle(`webhooks/accept-${label}`);
    const common = { url: `${url}/api/v1/send-email/async`, headers: sendHeaders(db.secretKey), body: JSON.stringify(EMAIL), connections: SETTINGS.connections, maxRequests: SETTINGS.maxRequests };
    await runLoad({ ...common, durationSec: SETTINGS.warmupSec });
    const main = await runLoad({ ...common, durationSec: SETTINGS.durationSec });
    return { perSecond: main.perSecond, non2xx: main.non2xx, errors: main.errors, latencyMs: main.latencyMs };
  } finally {
    await stop(api);
  }
}

/** Emails/s one worker delivers to an SMTP sink, with or without an endpoint for every event. */
async function deliveryRate(label, receiver) {
  const db = await provision(`webhooks_delivery_${label}`.replace(/[^a-z0-9_]/g, '_'));
  if (receiver) await addEndpoint(db, receiver.url, '*');
  const queued = await accept(db, SETTINGS.emails);
  const sink = await startSink(`smtp-sink (webhooks ${label})`);
  let worker;
  try {
    await settle(`webhooks/delivery-${label}`);
    const spawnedAt = Date.now();
    worker = startServer('worker', 'worker', webhookEnv({ DATABASE_URL: db.url, SMTP_URL: sink.url, SMTP_MAX_CONNECTIONS: '5' }));
    await waitForReady(worker);
    const n = queued.ids.length;
    const doneAt = await sink.waitForUnique(n, SETTINGS.timeoutMs);
    return { emails: n, perSecond: n / ((doneAt - spawnedAt) / 1000), webhookRequestsMeanwhile: receiver ? receiver.total() : 0 };
  } finally {
    await stop(worker);
    await sink.close();
  }
}

export async function run({ log } = {}) {
  const receiver = await startReceiver();
  try {
    const rate = await deliveriesPerSecond(receiver);
    log?.(`webhook deliveries: ${round(rate.perSecond)}/s`);
    // with and without alternate, round by round, so a slow spell of the shared machine falls on both
    const rounds = roundsSetting();
    const accept = await alternateRounds(rounds, (i) => acceptRate(`with_r${i + 1}`, receiver), (_w, i) => acceptRate(`without_r${i + 1}`, null), (m) => log?.(`accept ${m}`));
    const delivery = await alternateRounds(rounds, (i) => deliveryRate(`with_r${i + 1}`, receiver), (_w, i) => deliveryRate(`without_r${i + 1}`, null), (m) => log?.(`delivery ${m}`));
    return {
      settings: SETTINGS,
      goals: GOALS,
      deliveries: rate,
      accept: { with: accept.server, without: accept.baseline, ratio: accept.ratio },
      delivery: { with: delivery.server, without: delivery.baseline, ratio: delivery.ratio },
    };
  } finally {
    await receiver.close();
  }
}
