// Figure 3: instant-email latency from just before the POST to the sink's arrival, p50 and p99, while
// 20,000 bulk emails are queued; baseline: the same with nothing queued. One `api` process and one
// `worker` process (SMTP_URL at the sink) on PostgreSQL. In both cases the worker has just started and
// gets 10 unmeasured instant emails first (reported apart, as its cold start).
import { settle, startCpu } from '../lib/cpu.js';
import { activityDelta, dbActivity, provision, query } from '../lib/db.js';
import { enqueue, pacedSends } from '../lib/load.js';
import { serverEnv, sleep, startServer, stop, waitForReady } from '../lib/processes.js';
import { startSink } from '../lib/sink.js';
import { round, summarize } from '../lib/stats.js';

export const SETTINGS = { instant: 200, intervalMs: 25, warmup: 10, backlog: 20_000, enqueueConcurrency: 64, arrivalTimeoutMs: 30_000 };
export const GOALS = { p50Ms: 50, p99Ms: 250 };

async function instantSeries(baseUrl, secretKey, sink, count = SETTINGS.instant) {
  const { sent, maxPacingLagMs } = await pacedSends({ baseUrl, secretKey, tier: 'instant', count, intervalMs: SETTINGS.intervalMs });
  const accepted = sent.filter((s) => s.id !== null);
  const arrivedAll = await sink.waitForIds(accepted.map((s) => s.id), SETTINGS.arrivalTimeoutMs);
  const latencies = [];
  const acceptMs = [];
  let missing = 0;
  // per email in send order: [ms from POST to answer, ms from POST to the sink (null if it never came)]
  const samples = [];
  for (const s of accepted) {
    acceptMs.push(s.answeredAt - s.sentAt);
    const at = sink.arrivals.get(s.id);
    if (at === undefined) missing++;
    else latencies.push(at - s.sentAt);
    samples.push([s.answeredAt - s.sentAt, at === undefined ? null : at - s.sentAt]);
  }
  const rejected = sent.filter((s) => s.id === null);
  return {
    sent: sent.length,
    accepted: accepted.length,
    rejected: rejected.length,
    rejectedSamples: rejected.slice(0, 3).map((s) => s.error),
    notArrived: missing,
    arrivedAll,
    maxPacingLagMs,
    latencyMs: summarize(latencies),
    httpAcceptMs: summarize(acceptMs),
    windowEndedAt: Date.now(),
    samples,
  };
}

/**
 * The first emails after a worker starts pay for its cold start (JIT, SMTP connections being opened):
 * a few unmeasured instant emails first, so the series measures the steady state. Their latencies are
 * kept: the first one is the cold-start figure.
 */
async function warmup(baseUrl, secretKey, sink) {
  const w = await instantSeries(baseUrl, secretKey, sink, SETTINGS.warmup);
  return { firstEmailMs: w.samples[0]?.[1] ?? null, latenciesMs: w.samples.map((x) => x[1]), notArrived: w.notArrived, rejected: w.rejected };
}

export async function run() {
  const db = await provision('latency');
  const apiEnv = serverEnv({ DATABASE_URL: db.url, PORT: '0' });
  const api = startServer('api', 'api', apiEnv);
  const sink = await startSink('smtp-sink (latency)');
  const workerEnv = serverEnv({ DATABASE_URL: db.url, SMTP_URL: sink.url });
  let worker = null;
  try {
    const { url } = await waitForReady(api);

    // baseline: nothing queued
    await settle('latency/no backlog');
    worker = startServer('worker (no backlog)', 'worker', workerEnv);
    await waitForReady(worker);
    const baselineWarmup = await warmup(url, db.secretKey, sink);
    const baselineCpu = startCpu({ worker, api, sink: sink.entry });
    const baseline = await instantSeries(url, db.secretKey, sink);
    baseline.cpu = baselineCpu();
    const baselineLog = worker.problems;
    await stop(worker);
    worker = null;

    // backlog of bulk mail, queued with no worker running
    const enqueueCpu = startCpu({ api });
    const queued = await enqueue({ baseUrl: url, secretKey: db.secretKey, tier: 'bulk', count: SETTINGS.backlog, concurrency: SETTINGS.enqueueConcurrency, timeoutMs: 90_000 });
    queued.cpu = enqueueCpu();
    if (queued.ids.length < SETTINGS.backlog) {
      throw new Error(`queued only ${queued.ids.length} of ${SETTINGS.backlog} bulk emails: ${JSON.stringify(queued.failures)}`);
    }
    const bulkIds = queued.ids;
    const bulkArrived = () => bulkIds.reduce((n, id) => n + (sink.arrivals.has(id) ? 1 : 0), 0);

    await settle('latency/backlog');
    const pgBefore = await dbActivity(db.name).catch(() => null);
    const sinkTotalAtSpawn = sink.state.total;
    const spawnedAt = Date.now();
    worker = startServer('worker (backlog)', 'worker', workerEnv);
    const ready = await waitForReady(worker);
    const loadedWarmup = await warmup(url, db.secretKey, sink);
    const bulkAtStart = bulkArrived();
    const cpu = startCpu({ worker, api, sink: sink.entry });
    const loaded = await instantSeries(url, db.secretKey, sink);
    const cpuUsed = cpu();
    const bulkAtEnd = bulkArrived();
    const elapsedSec = (loaded.windowEndedAt - spawnedAt) / 1000;
    const loadedLog = worker.problems;
    await stop(worker);
    worker = null;
    // what the worker (and the API, for the instant emails) asked of PostgreSQL from the worker's spawn to its exit
    let pg = null;
    if (pgBefore) {
      await sleep(500);
      pg = activityDelta(pgBefore, await dbActivity(db.name));
      const delivered = sink.state.total - sinkTotalAtSpawn;
      pg.deliveredByThisWorker = delivered;
      pg.commitsPerDelivered = round(pg.commits / delivered, 2);
    }

    let statuses = null;
    try {
      statuses = await query(db.url, 'SELECT tier, status, count(*)::int AS n FROM messages GROUP BY tier, status ORDER BY tier, status');
    } catch (err) {
      statuses = `could not read: ${err.message}`;
    }
    return {
      settings: SETTINGS,
      goals: GOALS,
      baseline: { ...baseline, warmup: baselineWarmup, workerLog: baselineLog },
      backlog: {
        ...loaded,
        warmup: loadedWarmup,
        workerBootMs: ready.at - spawnedAt,
        bulkQueued: bulkIds.length,
        bulkEnqueuePerSecond: round(queued.perSecond),
        bulkEnqueueCpu: queued.cpu,
        cpu: cpuUsed,
        bulkDeliveredBeforeMeasuredSeries: bulkAtStart,
        bulkDeliveredByEnd: bulkAtEnd,
        bulkStillQueuedAtEnd: bulkIds.length - bulkAtEnd,
        bulkDeliveredPerSecond: round(bulkAtEnd / elapsedSec),
        workerLog: loadedLog,
        postgres: pg,
      },
      sink: { ...sink.state },
      apiLog: api.problems,
      messageStatusesAfter: statuses,
    };
  } finally {
    await stop(worker);
    await stop(api);
    await sink.close();
  }
}
