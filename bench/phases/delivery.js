// Figure 2: delivered emails/s to a local SMTP sink. N async emails are queued with no worker running,
// then one `worker` process starts with SMTP_URL at the sink; the clock runs from its spawn until the
// sink has all N. Baseline: plain nodemailer (pooled, 5 connections, TCP_NODELAY) sending the same N
// messages to the same kind of sink from this process. Each side is measured BENCH_ROUNDS times,
// alternately, each server round on a fresh database; the figures are the median rounds.
import { settle, startCpu } from '../lib/cpu.js';
import { activitySince, dbActivity, messageStatuses, provision, query } from '../lib/db.js';
import { EMAIL, enqueue } from '../lib/load.js';
import { nodemailerDelivery } from '../lib/nodemailer-baseline.js';
import { serverEnv, startServer, stop, waitForReady } from '../lib/processes.js';
import { startSink } from '../lib/sink.js';
import { alternateRounds, roundsSetting } from '../lib/rounds.js';
import { round, steadiness } from '../lib/stats.js';

export const SETTINGS = { messages: 5_000, enqueueConcurrency: 50, smtpMaxConnections: 5, timeoutMs: 120_000 };
export const GOAL = 0.7;

async function serverDelivery(db) {
  const api = startServer('api', 'api', serverEnv({ DATABASE_URL: db.url, PORT: '0' }));
  let queued;
  try {
    const { url } = await waitForReady(api);
    const cpu = startCpu({ api });
    queued = await enqueue({ baseUrl: url, secretKey: db.secretKey, tier: 'async', count: SETTINGS.messages, concurrency: SETTINGS.enqueueConcurrency, timeoutMs: 60_000 });
    queued.cpu = cpu();
  } finally {
    await stop(api);
  }
  if (queued.ids.length === 0) throw new Error(`could not queue any email: ${JSON.stringify(queued.failures)}`);

  const sink = await startSink('smtp-sink (server)');
  let worker;
  let pgBefore = null;
  try {
    await settle('delivery/worker');
    pgBefore = await dbActivity(db.name).catch(() => null);
    const spawnedAt = Date.now();
    worker = startServer('worker', 'worker', serverEnv({ DATABASE_URL: db.url, SMTP_URL: sink.url, SMTP_MAX_CONNECTIONS: String(SETTINGS.smtpMaxConnections) }));
    const cpu = startCpu({ worker, sink: sink.entry });
    const ready = await waitForReady(worker);
    const n = queued.ids.length;
    const doneAt = await sink.waitForUnique(n, SETTINGS.timeoutMs);
    const cpuUsed = cpu();
    const sinkStats = await sink.stats();
    const missing = queued.ids.filter((id) => !sink.arrivals.has(id)).length;
    await stop(worker);
    // what the worker asked of PostgreSQL (its backends report their counters when they exit)
    const pg = await activitySince(db.name, pgBefore, n);
    // how long each result waited between the SMTP answer (sent_at, the worker's clock) and the start of the
    // transaction that recorded it (updated_at = now() in PostgreSQL; same machine clock)
    let resultWaitMs = null;
    try {
      const [row] = await query(
        db.url,
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY w) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY w) AS p99, max(w) AS max
           FROM (SELECT extract(epoch FROM (updated_at - sent_at)) * 1000 AS w FROM messages WHERE sent_at IS NOT NULL) t`,
      );
      resultWaitMs = { p50: round(Number(row.p50), 1), p99: round(Number(row.p99), 1), max: round(Number(row.max), 1) };
    } catch (err) {
      resultWaitMs = `could not read: ${err.message}`;
    }
    return {
      queued: { accepted: n, failures: queued.failures, enqueuePerSecond: round(queued.perSecond), cpu: queued.cpu },
      arrivals: steadiness(sink.arrivalTimes),
      resultWaitMs,
      cpu: cpuUsed,
      bootMs: ready.at - spawnedAt,
      elapsedMs: doneAt - spawnedAt,
      perSecond: n / ((doneAt - spawnedAt) / 1000),
      perSecondAfterReady: n / ((doneAt - ready.at) / 1000),
      sink: { ...sink.state, smtpConnections: sinkStats.connections, missingAcceptedIds: missing },
      workerLog: worker.problems,
      postgres: pg,
    };
  } finally {
    await stop(worker);
    await sink.close();
  }
}


/** One server round on a fresh database: queue N emails, then time a worker delivering them. */
async function serverRound(i) {
  const db = await provision(`delivery_r${i + 1}`);
  const server = await serverDelivery(db);
  const statuses = await messageStatuses(db.url);
  return { ...server, messageStatusesAfter: statuses };
}

export async function run({ log } = {}) {
  const measured = await alternateRounds(
    roundsSetting(),
    serverRound,
    (server) => nodemailerDelivery({ n: server.queued.accepted, label: 'delivery', email: EMAIL, maxConnections: SETTINGS.smtpMaxConnections, timeoutMs: SETTINGS.timeoutMs }),
    log,
  );
  return { settings: SETTINGS, ...measured, goal: GOAL };
}
