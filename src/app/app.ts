import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { openEmbedded, openPostgres, type Database } from '../platform/db/database.js';
import { migrate } from '../platform/db/migrate.js';
import { startAdminSocket } from '../platform/embedded/admin-socket.js';
import { acquireDataDirLock, type DataDirLock } from '../platform/embedded/data-dir-lock.js';
import { RateLimiter } from '../platform/http/rate-limiter.js';
import { createHttpServer } from '../platform/http/server.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { registerCaptureRoutes } from '../modules/capture/routes.js';
import { registerEmailRoutes } from '../modules/emails/routes.js';
import { registerAuth, requireKey } from '../modules/keys/auth-hook.js';
import { registerSendingRoutes } from '../modules/sending/routes.js';
import { registerDomainRoutes } from '../modules/domains/routes.js';
import { createOutgoingPreparer } from '../modules/domains/outgoing.js';
import { DkimSignerPool } from '../platform/mail/dkim/signer-pool.js';
import { registerTemplateRoutes } from '../modules/templates/routes.js';
import { registerHostedRoutes } from '../modules/hosted/routes.js';
import { releaseOrphanedLeases } from '../modules/delivery/store.js';
import { largeHtmlTextAlternative } from '../modules/delivery/text-alternative.js';
import { DeliveryWorker } from '../workers/delivery-worker.js';
import { enqueueJob, JobWorker } from '../workers/job-worker.js';
import { createJobHandlers, RECURRING_JOBS } from './job-handlers.js';
import { runAdminCommand } from './admin-commands.js';
import { createServices, type Services } from './services.js';
import { MISSING_SECRET_KEY } from './server-secret.js';
import { createRegionTransports, createTransport } from './transports.js';

export interface Roles {
  api: boolean;
  worker: boolean;
}

export interface RunningApp {
  services: Services;
  url: string | null;
  http: FastifyInstance | null;
  worker: DeliveryWorker | null;
  log: Logger;
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  roles: Roles;
  /** tests pass an in-memory or per-test database */
  database?: Database;
  logger?: Logger;
}

/** Opens the configured database: PostgreSQL for DATABASE_URL, else the embedded one under DATA_DIR (locked). */
export async function openDatabase(config: Config): Promise<{ database: Database; lock: DataDirLock | null }> {
  if (config.databaseUrl) return { database: await openPostgres(config.databaseUrl), lock: null };
  const lock = await acquireDataDirLock(config.dataDir);
  try {
    return { database: await openEmbedded(config.dataDir), lock };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

export function buildHttp(services: Services, log: Logger): FastifyInstance {
  const app = createHttpServer({ logger: log });
  registerAuth(app, { keys: services.keys, limiter: new RateLimiter(), config: services.config });
  app.get('/health', async () => ({ success: true, status: 'ok', database: services.database.kind }));
  app.get('/api/v1/integrations/verify', { config: { auth: { key: 'any' } } }, async (request) => {
    const key = requireKey(request);
    const data = { key_type: key.kind, workspace_id: key.workspaceId, scopes: key.scopes, domain: key.domainId };
    return { success: true, message: 'API key is valid', data };
  });
  registerSendingRoutes(app, services.sending);
  registerEmailRoutes(app, services.emails);
  registerCaptureRoutes(app, services.database.db);
  registerDomainRoutes(app, services.domains);
  registerTemplateRoutes(app, services.templates);
  registerHostedRoutes(app, services);
  return app;
}

export async function startApp(opts: StartOptions): Promise<RunningApp> {
  const { config } = opts;
  const log = opts.logger ?? createLogger(config.logLevel);
  let lock: DataDirLock | null = null;
  let database = opts.database;
  if (!database) ({ database, lock } = await openDatabase(config));
  const closers: (() => Promise<void>)[] = [];
  try {
    await migrate(database.db);
    const services = await createServices(config, database);
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
      const signer = new DkimSignerPool({ threads: config.domains.signingThreads });
      closers.push(() => signer.close());
      const w = new DeliveryWorker({
        db: database.db,
        signal: services.signal,
        log,
        leaseMs: config.leaseMs,
        retryBaseMs: config.retryBaseMs,
        lateAfterMs: config.scheduleLateAfterSeconds * 1000,
        prepareOutgoing: createOutgoingPreparer({ domains: services.domains, keys: services.keys, signer, captureOnly: config.deliveryMode === 'capture' }),
        completeContent: largeHtmlTextAlternative(services.content, log),
        lanes: [
          {
            name: 'instant',
            maxPriority: 0,
            concurrency: config.instantWorkers,
            transport: createTransport(config, database.db, Math.min(2, config.instantWorkers)),
            regionTransports: createRegionTransports(config, database.db, Math.min(2, config.instantWorkers)),
          },
          {
            name: 'all',
            maxPriority: 3,
            concurrency: config.workerConcurrency,
            transport: createTransport(config, database.db, config.smtpMaxConnections),
            regionTransports: createRegionTransports(config, database.db, config.smtpMaxConnections),
          },
        ],
      });
      w.start();
      worker = w;
      closers.push(() => w.stop());
      const jobs = new JobWorker({ db: database.db, signal: services.signal, log, handlers: createJobHandlers(services), retryBaseMs: config.retryBaseMs });
      for (const job of RECURRING_JOBS) await enqueueJob(database.db, services.signal, { queue: job.queue, dedupeKey: job.queue });
      jobs.start();
      closers.push(() => jobs.stop());
    }

    let http: FastifyInstance | null = null;
    let url: string | null = null;
    if (opts.roles.api) {
      const h = buildHttp(services, log);
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
      log,
      async close() {
        // stop intake first, then let workers record what is in flight, then the database
        for (const close of closers.reverse()) await close().catch((err: unknown) => log.error({ err }, 'shutdown step failed'));
        if (!opts.database) await db.close();
        await lock?.release();
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    if (!opts.database) await database.close().catch(() => undefined);
    await lock?.release();
    throw err;
  }
}
