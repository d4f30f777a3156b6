import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config/config.js';
import { openEmbedded, openPostgres, type Database, type Warn } from '../platform/db/database.js';
import { migrate } from '../platform/db/migrate.js';
import { startAdminSocket } from '../platform/embedded/admin-socket.js';
import { acquireDataDirLock, type DataDirLock } from '../platform/embedded/data-dir-lock.js';
import { RateLimiter } from '../platform/http/rate-limiter.js';
import { ApiError, errorEnvelope } from '../platform/http/errors.js';
import { createHttpServer } from '../platform/http/server.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { registerApiReference } from './api-reference.js';
import { healthSchema, readySchema, verifyKeySchema } from './schemas.js';
import { DATABASE_RETRY_AFTER_SECONDS } from '../platform/http/service-unavailable.js';
import { settleWithin } from '../platform/settle-within.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { Metrics } from '../platform/metrics.js';
import { registerMetricsRoute } from '../platform/http/metrics-route.js';
import { registerRequestLog } from '../platform/http/request-log.js';
import { TIERS } from '../platform/lifecycle.js';
import { registerCaptureRoutes } from '../modules/capture/index.js';
import { registerEmailRoutes } from '../modules/emails/index.js';
import { registerAuth, requireKey } from '../modules/keys/index.js';
import { registerSendingRoutes, SEND_PREFIXES, TIER_POLICIES } from '../modules/sending/index.js';
import { registerDomainRoutes, createOutgoingPreparer } from '../modules/domains/index.js';
import { DkimSignerPool } from '../platform/mail/dkim/signer-pool.js';
import { startInboundServer, type InboundServer } from '../platform/mail/inbound-server.js';
import { registerTemplateRoutes } from '../modules/templates/index.js';
import { registerContactImportRoutes, registerContactRoutes } from '../modules/contacts/index.js';
import { registerHostedRoutes, registerSubscribeRoutes } from '../modules/hosted/index.js';
import { registerTrackingRoutes } from '../modules/tracking/index.js';
import { registerSuppressionRoutes } from '../modules/suppressions/index.js';
import { registerWebhookRoutes, WebhookDispatcher } from '../modules/webhooks/index.js';
import { registerAutomationRoutes, registerPublicAutomationRoutes } from '../modules/automations/index.js';
import { queueStats, releaseOrphanedLeases, largeHtmlTextAlternative } from '../modules/delivery/index.js';
import { DeliveryWorker } from '../workers/delivery-worker.js';
import { enqueueJob } from '../platform/queue/jobs-store.js';
import { JobWorker } from '../workers/job-worker.js';
import { AutomationWorker } from '../workers/automation-worker.js';
import { createJobHandlers, RECURRING_JOBS } from './job-handlers.js';
import { runAdminCommand } from './admin-commands.js';
import { createServices, createStepRunner, type Services } from './services.js';
import { MISSING_SECRET_KEY } from './server-secret.js';
import { createRegionTransports, createTransport } from './transports.js';

export interface Roles {
  api: boolean;
  worker: boolean;
  /** the inbound SMTP listener for bounces and complaints, when INBOUND_SMTP_PORT is set */
  inbound?: boolean;
}

export interface RunningApp {
  services: Services;
  url: string | null;
  http: FastifyInstance | null;
  worker: DeliveryWorker | null;
  /** the inbound SMTP listener, when this process runs it */
  inbound: InboundServer | null;
  log: Logger;
  /** what GET /metrics exposes; counts this process only */
  metrics: Metrics;
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  roles: Roles;
  /** tests pass an in-memory or per-test database */
  database?: Database;
  logger?: Logger;
}

/**
 * Opens the configured database: PostgreSQL for DATABASE_URL (with its timeouts and reachability probe), else the
 * embedded one under DATA_DIR (locked, owner-only; `warn` hears what had to be tightened).
 */
export async function openDatabase(config: Config, opts: { warn?: Warn; note?: Warn; log?: Logger } = {}): Promise<{ database: Database; lock: DataDirLock | null }> {
  if (config.databaseUrl) return { database: await openPostgres(config.databaseUrl, { limits: config.postgres, ...(opts.log ? { log: opts.log } : {}) }), lock: null };
  const lock = await acquireDataDirLock(config.dataDir);
  try {
    return { database: await openEmbedded(config.dataDir, { ...(opts.warn ? { warn: opts.warn } : {}), ...(opts.note ? { note: opts.note } : {}) }), lock };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * Connections a server opens at start (PostgreSQL): about what the worker's loops or the API's concurrent
 * requests hold at once, so the first burst does not pay for new database processes (README, "Priority tiers
 * and the queue").
 */
const WARM_CONNECTIONS = 8;

/** How long a scrape waits for the queue gauges; the rest of the metrics are in memory. */
const QUEUE_STATS_WAIT_MS = 2000;

/** The queue gauges' reader: bounded by QUEUE_STATS_WAIT_MS, and one query at a time however often it is scraped. */
function queueGaugeReader(services: Services, metrics: Metrics): () => Promise<void> {
  const tiers = TIERS.map((tier) => ({ tier, priority: TIER_POLICIES[tier].priority }));
  let inFlight: Promise<Awaited<ReturnType<typeof queueStats>>> | null = null;
  return async () => {
    inFlight ??= queueStats(services.database.db, tiers).finally(() => {
      inFlight = null;
    });
    const reading = inFlight;
    let stats: Awaited<typeof reading> | null = null;
    const settled = await settleWithin(reading.then((s) => (stats = s)), QUEUE_STATS_WAIT_MS);
    metrics.setQueue(settled ? stats : null);
  };
}

/** Send routes, whose durations are the accept latency histogram. */
const SEND_ROUTES = new Set(SEND_PREFIXES.flatMap((prefix) => ['instant', 'high', 'async', 'bulk', 'queue', 'schedule'].map((segment) => `${prefix}/${segment}`)));

export function buildHttp(services: Services, log: Logger, metrics: Metrics = new Metrics({ defaultMetrics: false })): FastifyInstance {
  const app = createHttpServer({ logger: log, trustProxy: services.config.trustProxy, limits: services.config.http });
  registerRequestLog(app, {
    workspaceOf: (request) => request.apiKey?.workspaceId ?? null,
    timed: { routes: SEND_ROUTES, observe: (_route, seconds) => metrics.acceptDuration.observe(seconds) },
  });
  registerAuth(app, { keys: services.keys, limiter: new RateLimiter(), config: services.config });
  registerApiReference(app, { publicUrl: () => services.config.publicUrl });
  // in a plugin registered after the reference, which collects the route declarations
  void app.register(async (scope) => {
    const api = scope.withTypeProvider<ZodTypeProvider>();
    // Liveness: 200 while the process serves, with the last known database state from the background probe
    // (never a query of its own, so it cannot hang). Readiness: 503 while the database is unreachable, so a
    // load balancer sends traffic elsewhere; the embedded database is in-process and always ready.
    const databaseHealth = () => services.database.health?.() ?? { state: 'up' as const, since: null };
    api.get('/health', { schema: healthSchema }, async () => {
      const h = databaseHealth();
      return { success: true, status: 'ok' as const, database: services.database.kind, database_state: h.state, database_state_since: h.since?.toISOString() ?? null };
    });
    api.get('/ready', { schema: readySchema }, async (_request, reply: FastifyReply) => {
      const h = databaseHealth();
      if (h.state === 'up') return { success: true, status: 'ready' as const, database: services.database.kind };
      reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      return reply.status(503).send(errorEnvelope(new ApiError('SERVICE_UNAVAILABLE', `The database is ${h.state === 'down' ? 'unreachable' : 'not checked yet'}`)));
    });
    api.get('/api/v1/integrations/verify', { config: { auth: { key: 'any', domainKey: 'all' } }, schema: verifyKeySchema }, async (request) => {
      const key = requireKey(request);
      const data = { key_type: key.kind, workspace_id: key.workspaceId, scopes: key.scopes, domain: key.domainId };
      return { success: true, message: 'API key is valid', data };
    });
    registerSendingRoutes(scope, services.sending);
    registerEmailRoutes(scope, services.emails);
    registerCaptureRoutes(scope, services.database.db);
    registerDomainRoutes(scope, services.domains);
    registerTemplateRoutes(scope, services.templates);
    registerContactRoutes(scope, services.contacts, services.audiences);
    registerHostedRoutes(scope, services.hosted);
    registerTrackingRoutes(scope, services.tracking);
    registerSuppressionRoutes(scope, services.suppressions);
    registerSubscribeRoutes(scope, services.subscribe, { postsPerMinute: services.config.subscribeFormPostsPerMinute });
    registerContactImportRoutes(scope, services.contactImports, services.config);
    registerWebhookRoutes(scope, services.webhooks);
    registerPublicAutomationRoutes(scope, services.automations);
    registerAutomationRoutes(scope, services.automations);
    registerMetricsRoute(scope, { metrics, token: services.config.metricsToken, refresh: queueGaugeReader(services, metrics) });
  });
  return app;
}

export async function startApp(opts: StartOptions): Promise<RunningApp> {
  const { config } = opts;
  const log = opts.logger ?? createLogger(config.logLevel, { format: config.logFormat });
  let lock: DataDirLock | null = null;
  let database = opts.database;
  if (!database) {
    ({ database, lock } = await openDatabase(config, { warn: (detail, message) => log.warn(detail, message), note: (detail, message) => log.info(detail, message), log }));
  }
  // each gets the shutdown deadline (epoch ms); steps that can wait on the network must not wait past it
  const closers: ((deadline: number) => Promise<void>)[] = [];
  try {
    const applied = await migrate(database.db);
    if (applied.length > 0) log.info({ applied: applied.length, last: applied.at(-1) }, `applied ${applied.length} database migration(s)`);
    const db0 = database;
    const metrics = new Metrics({ poolStats: () => db0.poolStats() });
    if (opts.roles.api || opts.roles.worker) {
      // only a head start: a server whose warm-up fails (a table it may not read, say) starts all the same
      await database.warm?.(WARM_CONNECTIONS).catch((err: unknown) => log.warn({ err }, 'could not open the database connections ahead of the first work; they open on demand'));
    }
    const services = await createServices(config, database, metrics);
    closers.push(() => services.content.close());
    await services.signal.start();
    closers.push(() => services.signal.stop());

    if (lock) {
      const recovered = await releaseOrphanedLeases(database.db);
      if (recovered > 0) log.warn({ recovered }, 'retrying emails interrupted by an earlier crash');
      const socket = await startAdminSocket(config.dataDir, (command, args) => runAdminCommand(services, command, args));
      closers.push(() => socket.close());
    }

    let worker: DeliveryWorker | null = null;
    if (config.databaseUrl && !config.domains.secretKey) log.warn(MISSING_SECRET_KEY);

    if (opts.roles.worker) {
      // custom domains: DKIM signing on worker threads, the domain's return path and region
      const signer = new DkimSignerPool({ threads: config.domains.signingThreads, onSigned: (seconds) => metrics.dkimSignDuration.observe(seconds) });
      closers.push(() => signer.close());
      const w = new DeliveryWorker({
        db: database.db,
        signal: services.signal,
        log,
        leaseMs: config.leaseMs,
        retryBaseMs: config.retryBaseMs,
        lateAfterMs: config.scheduleLateAfterSeconds * 1000,
        pollMs: config.deliveryPollMs,
        prepareOutgoing: createOutgoingPreparer({
          domains: services.domains,
          keys: services.keys,
          signer,
          captureOnly: config.deliveryMode === 'capture',
          returnPaths: services.returnPaths,
          bounceDomain: config.inbound.bounceDomain,
          defaultFrom: config.defaultFrom,
        }),
        completeContent: largeHtmlTextAlternative(services.content, log),
        metrics,
        topicPriority: Object.fromEntries(Object.entries(TIER_POLICIES).map(([tier, policy]) => [tier, policy.priority])),
        // bulk gives way to instant mail as the background does: BACKGROUND_SHARE of the shared lane's slots
        bulkPacing: { paced: () => services.pacer.pacing, slots: Math.ceil(config.workerConcurrency * config.backgroundShare), priority: TIER_POLICIES.bulk.priority },
        lanes: [
          {
            name: 'instant',
            maxPriority: 0,
            concurrency: config.instantWorkers,
            transport: createTransport(config, database.db, Math.min(2, config.instantWorkers), log),
            regionTransports: createRegionTransports(config, database.db, Math.min(2, config.instantWorkers), log),
          },
          {
            name: 'all',
            maxPriority: 3,
            concurrency: config.workerConcurrency,
            transport: createTransport(config, database.db, config.smtpMaxConnections, log),
            regionTransports: createRegionTransports(config, database.db, config.smtpMaxConnections, log),
          },
        ],
      });
      w.start();
      worker = w;
      closers.push((deadline) => w.stop({ deadline }));
      const jobs = new JobWorker({ db: database.db, signal: services.signal, log, handlers: createJobHandlers(services), retryBaseMs: config.retryBaseMs });
      for (const job of RECURRING_JOBS) await enqueueJob(database.db, services.signal, { queue: job.queue, dedupeKey: job.queue });
      jobs.start();
      closers.push((deadline) => jobs.stop({ deadline }));
      // webhook requests have a loop and slots of their own: a slow endpoint never holds email delivery or jobs
      const webhooks = new WebhookDispatcher({ db: database.db, signal: services.signal, log, resolver: services.resolver, secrets: services.secrets, settings: config.webhooks, yieldTo: () => w.busy });
      webhooks.start();
      closers.push((deadline) => webhooks.stop({ deadline }));
      // automation steps: batches of step jobs, each batch one transaction (README, "The automation engine"); four
      // batches in flight keep the worker busy while PostgreSQL writes the others, and use 4 of the pool's 20 connections
      const automations = new AutomationWorker({ db: database.db, signal: services.signal, log, runner: createStepRunner(services, log), pacer: services.pacer, leaseMs: config.leaseMs, concurrency: database.kind === 'pglite' ? 1 : 4 });
      automations.start();
      closers.push((deadline) => automations.stop({ deadline }));
    }

    let inbound: InboundServer | null = null;
    if (opts.roles.inbound && config.inbound.port !== null) {
      const i = config.inbound;
      const server = await startInboundServer({
        host: i.host,
        port: i.port!,
        name: config.heloName,
        maxBytes: i.maxBytes,
        maxConnections: i.maxConnections,
        connectionsPerMinute: i.connectionsPerMinute,
        socketTimeoutMs: i.socketTimeoutMs,
        acceptsDomain: (domain) => services.inbound.acceptsDomain(domain),
        onMessage: async (m) => {
          const result = await services.inbound.receive(m.to, m.raw);
          log.info({ from: m.from, remoteAddress: m.remoteAddress, ...result }, 'inbound report');
        },
        log,
      });
      inbound = server;
      closers.push(() => server.close());
      log.info({ host: i.host, port: server.port }, 'inbound SMTP listener ready');
    }

    let http: FastifyInstance | null = null;
    let url: string | null = null;
    if (opts.roles.api) {
      const h = buildHttp(services, log, metrics);
      await h.listen({ port: config.port, host: config.host });
      const address = h.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      if (!config.publicUrlExplicit) config.publicUrl = url; // PORT=0: links must carry the real port
      http = h;
      closers.push(() => h.close());
    }

    const db = database;
    return {
      services,
      url,
      http,
      worker,
      inbound,
      log,
      metrics,
      async close() {
        // stop intake first, then let workers record what is in flight, then the database; all within
        // SHUTDOWN_GRACE_MS even when the database is gone (a step still waiting then is abandoned)
        const end = Date.now() + config.shutdownGraceMs;
        // the last tenth (at most 2 s) is kept for closing the database, so an embedded one can always flush
        const deadline = end - Math.min(2000, config.shutdownGraceMs / 10);
        const step = async (name: string, p: Promise<unknown>, until: number): Promise<boolean> => {
          const guarded = p.catch((err: unknown) => log.error({ err, step: name }, 'shutdown step failed'));
          const done = await settleWithin(guarded, until - Date.now());
          if (!done) log.warn({ step: name, graceMs: config.shutdownGraceMs }, 'shutdown step did not finish within the grace period');
          return done;
        };
        for (const [i, close] of closers.reverse().entries()) await step(`${i + 1} of ${closers.length} (in reverse start order)`, close(deadline), deadline);
        const closed = opts.database ? true : await step('database', db.close(), end);
        // an embedded database still closing keeps its folder locked: the lock goes stale when this process exits
        if (closed) await lock?.release();
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close(Date.now() + config.shutdownGraceMs).catch(() => undefined);
    if (!opts.database) await database.close().catch(() => undefined);
    await lock?.release();
    throw err;
  }
}
