import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_POSTGRES_LIMITS as PG, type PostgresLimits } from '../platform/db/database.js';
import { parseDnsServers } from '../platform/dns/resolver.js';
import { parseTrustProxy, type TrustProxy } from '../platform/http/trust-proxy.js';
import { displaySetting } from './redact.js';
import { defaultLogFormat, LOG_FORMATS, type LogFormat } from '../platform/logger.js';
import { DEFAULT_HTTP_LIMITS as HTTP, type HttpServerLimits } from '../platform/http/server.js';
import { loadContentConfig, type ContentConfig } from './content-config.js';
import { loadDomainsConfig, type DomainsConfig } from './domains-config.js';
import { PLANS, type Plan } from './plans.js';

export { PLANS, type Plan };

export interface PlanLimits {
  /** emails per calendar month; null = no quota */
  monthlyEmails: number | null;
  /** API requests per second per key; null = not limited */
  requestsPerSecond: number | null;
}

export type DeliveryMode = 'capture' | 'smtp' | 'mx';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | null;
  dataDir: string;
  dnsServers: string[] | undefined;
  smtpUrl: string | null;
  deliveryMode: DeliveryMode;
  mxPort: number;
  /** direct delivery may connect to loopback, private and other non-public addresses (tests, closed networks) */
  mxAllowPrivateAddresses: boolean;
  /** relay credentials may be sent without TLS (an explicit opt-out of requiring TLS before AUTH) */
  smtpAllowInsecureAuth: boolean;
  heloName: string;
  /** custom sending domains: DKIM, MAIL FROM, DMARC, the server key, per-region delivery */
  domains: DomainsConfig;
  /** templates, MJML and HTML-to-text: their limits and worker threads */
  content: ContentConfig;
  publicUrl: string;
  /** false when PUBLIC_URL was derived from HOST and PORT; the server then corrects it once it knows its port */
  publicUrlExplicit: boolean;
  plans: Record<Plan, PlanLimits>;
  /** the plan a workspace gets when it is created without one */
  defaultPlan: Plan;
  unauthenticatedRequestsPerSecond: number;
  /** peers whose X-Forwarded-For names the client (request.ip, which the unauthenticated rate limit counts by) */
  trustProxy: TrustProxy;
  /** how long a CLI command waits for a busy embedded server to answer on its admin socket */
  cliWaitSeconds: number;
  retryBaseMs: number;
  leaseMs: number;
  workerConcurrency: number;
  instantWorkers: number;
  /** the part of the time background work (automation steps, enrollments) may take while instant mail flows; 1 = never paced */
  backgroundShare: number;
  smtpMaxConnections: number;
  logLevel: string;
  /** LOG_FORMAT: readable lines on a terminal, JSON elsewhere */
  logFormat: LogFormat;
  /** METRICS_TOKEN: GET /metrics wants it as a bearer token; null = loopback clients only */
  metricsToken: string | null;
  messageIdDomain: string;
  defaultFrom: string;
  /** DEFAULT_FROM was set: outside capture mode the built-in placeholder cannot deliver (double opt-in needs a real sender) */
  defaultFromExplicit: boolean;
  /** POSTs to a hosted subscribe form per client address per minute, in each server process */
  subscribeFormPostsPerMinute: number;
  scheduleMinSeconds: number;
  scheduleMaxDays: number;
  scheduleLateAfterSeconds: number;
  /** live sending (regular) API keys per workspace */
  maxSendingKeysPerWorkspace: number;
  /** CSV imports of contacts: the largest upload, and imports in progress per workspace (IMPORT_MAX_BYTES, IMPORT_MAX_ACTIVE) */
  imports: { maxBytes: number; maxActivePerWorkspace: number };
  /** PostgreSQL timeouts and the reachability probe (README: "PostgreSQL outages") */
  postgres: PostgresLimits;
  /** how long SIGTERM may take: every shutdown step shares this budget */
  shutdownGraceMs: number;
  /** fallback polling of an idle delivery worker; wake-ups normally come from LISTEN/NOTIFY or in-process */
  deliveryPollMs: number;
  /** timeouts, connection cap and the memory budget of large bodies */
  http: HttpServerLimits;
  /** the inbound SMTP listener for bounces and complaints (README, "Bounces and complaints") */
  inbound: InboundConfig;
  /** outbound webhooks (README: "Webhooks") */
  webhooks: WebhookSettings;
}

export interface InboundConfig {
  /** INBOUND_SMTP_PORT; null = the listener is off */
  port: number | null;
  host: string;
  /** the largest message accepted, in bytes */
  maxBytes: number;
  maxConnections: number;
  /** new connections per client address per minute, in each process */
  connectionsPerMinute: number;
  /** idle time before a connection is closed */
  socketTimeoutMs: number;
  /** BOUNCE_DOMAIN: the return-path domain of mail sent as DEFAULT_FROM; null = such mail keeps its from address */
  bounceDomain: string | null;
}

export interface WebhookSettings {
  /** WEBHOOK_RETRY_SCALE multiplies the retry schedule and the 24 hours after which an endpoint is `failing` */
  retryScale: number;
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS: endpoints may be loopback, private and other non-public addresses */
  allowPrivateTargets: boolean;
  /** WEBHOOK_CONCURRENCY: requests in flight per worker process */
  concurrency: number;
  /** WEBHOOK_ENDPOINT_CONCURRENCY: of those, at most this many to one endpoint, so a slow one cannot take them all */
  endpointConcurrency: number;
  /** WEBHOOK_TIMEOUT_MS: one request, connection to the end of the answer */
  timeoutMs: number;
  /** WEBHOOK_POLL_MS: fallback polling of the outbox and the deliveries (the embedded database has no NOTIFY) */
  pollMs: number;
  /** WEBHOOK_MAX_DEFER_MS: how long webhooks wait while their worker delivers email (modules/webhooks/email-first.ts) */
  maxDeferMs: number;
}

const portSchema = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const booleanSetting = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const planSchema = z
  .string()
  .trim()
  .transform((v) => v.toUpperCase())
  .pipe(z.enum(PLANS, { error: `must be one of ${PLANS.join(', ')}` }));
const limitSchema = z
  .string()
  .trim()
  .transform((v, ctx) => {
    if (v === '' || v === 'none' || v === 'unlimited') return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive integer, "none" or "unlimited"' });
      return z.NEVER;
    }
    return n;
  });

/** Problems are reported with the environment variable's name so the operator can fix them at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_PLANS: Record<Plan, PlanLimits> = {
  FREE: { monthlyEmails: 3000, requestsPerSecond: 10 },
  LAUNCH: { monthlyEmails: 50000, requestsPerSecond: 100 },
  CUSTOM: { monthlyEmails: null, requestsPerSecond: null },
  ENTERPRISE: { monthlyEmails: null, requestsPerSecond: null },
};

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  function read<T>(name: string, schema: z.ZodType<T>, fallback: T): T {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      problems.push(`${name}=${displaySetting(name, raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
      return fallback;
    }
    return parsed.data;
  }

  const port = read('PORT', portSchema, 8080);
  const host = read('HOST', z.string().min(1), '127.0.0.1');
  const databaseUrl = read(
    'DATABASE_URL',
    z.string().refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'must be a postgres:// or postgresql:// URL'),
    null as string | null,
  );
  const dataDir = path.resolve(read('DATA_DIR', z.string().min(1), './data'));
  let dnsServers: string[] | undefined;
  if (env.DNS_SERVERS) {
    try {
      dnsServers = parseDnsServers(env.DNS_SERVERS);
    } catch (err) {
      problems.push(`DNS_SERVERS=${displaySetting('DNS_SERVERS', env.DNS_SERVERS)}: ${(err as Error).message}`);
    }
  }
  const smtpUrl = read(
    'SMTP_URL',
    z.string().refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '';
      } catch {
        return false;
      }
    }, 'must be smtp://[user:pass@]host[:port] or smtps://…'),
    null as string | null,
  );
  const explicitMode = read('DELIVERY_MODE', z.enum(['capture', 'smtp', 'mx']), null as DeliveryMode | null);
  let deliveryMode: DeliveryMode = explicitMode ?? (smtpUrl ? 'smtp' : 'capture');
  if (deliveryMode === 'smtp' && !smtpUrl) {
    problems.push('DELIVERY_MODE=smtp needs SMTP_URL');
    deliveryMode = 'capture';
  }
  const publicUrl = read(
    'PUBLIC_URL',
    z.string().refine((v) => /^https?:\/\/[^/]+/.test(v), 'must be an http:// or https:// URL'),
    `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
  ).replace(/\/+$/, '');

  const plans = structuredClone(DEFAULT_PLANS);
  for (const plan of Object.keys(plans) as Plan[]) {
    const quota = read(`PLAN_${plan}_MONTHLY_EMAILS`, limitSchema, undefined as number | null | undefined);
    if (quota !== undefined) plans[plan].monthlyEmails = quota;
    const rate = read(`PLAN_${plan}_REQUESTS_PER_SECOND`, limitSchema, undefined as number | null | undefined);
    if (rate !== undefined) plans[plan].requestsPerSecond = rate;
  }

  const heloName = read('HELO_NAME', z.string().min(1), new URL(publicUrl).hostname);
  const smtpMaxConnections = read('SMTP_MAX_CONNECTIONS', positiveInt, 5);
  const config: Config = {
    port,
    host,
    databaseUrl,
    dataDir,
    dnsServers,
    smtpUrl,
    deliveryMode,
    mxPort: read('MX_PORT', portSchema, 25),
    mxAllowPrivateAddresses: read('MX_ALLOW_PRIVATE_ADDRESSES', booleanSetting, false),
    smtpAllowInsecureAuth: read('SMTP_ALLOW_INSECURE_AUTH', booleanSetting, false),
    heloName,
    domains: loadDomainsConfig({ read, problems, deliveryMode, smtpUrl, heloName }),
    content: loadContentConfig(read),
    publicUrl,
    publicUrlExplicit: Boolean(env.PUBLIC_URL),
    plans,
    defaultPlan: read('DEFAULT_PLAN', planSchema, 'FREE'),
    unauthenticatedRequestsPerSecond: read('UNAUTHENTICATED_REQUESTS_PER_SECOND', positiveInt, 50),
    trustProxy: read('TRUST_PROXY', z.string().transform((v, ctx) => {
      try {
        return parseTrustProxy(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }), false as TrustProxy),
    cliWaitSeconds: read('CLI_WAIT_SECONDS', z.coerce.number().int().min(0), 60),
    retryBaseMs: read('RETRY_BASE_MS', positiveInt, 1000),
    leaseMs: read('DELIVERY_LEASE_MS', positiveInt, 60_000),
    instantWorkers: read('INSTANT_WORKERS', positiveInt, 4),
    backgroundShare: read('BACKGROUND_SHARE', z.coerce.number().gt(0).max(1), 0.1),
    smtpMaxConnections,
    // through a relay, a few messages per connection keep every connection busy while the next ones are composed,
    // signed and claimed (2 per connection left connections idle behind DKIM signing); many more only queue
    // inside the process and slow the event loop for everything else; direct delivery fans out to many servers
    workerConcurrency: read('WORKER_CONCURRENCY', positiveInt, deliveryMode === 'smtp' ? smtpMaxConnections * 4 : 32),
    logLevel: read('LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
    logFormat: read('LOG_FORMAT', z.enum(LOG_FORMATS), defaultLogFormat()),
    metricsToken: read('METRICS_TOKEN', z.string().trim().min(16, 'must be at least 16 characters'), null as string | null),
    messageIdDomain: read('MESSAGE_ID_DOMAIN', z.string().min(1), new URL(publicUrl).hostname),
    defaultFrom: read('DEFAULT_FROM', z.email(), 'noreply@localhost.localdomain'),
    defaultFromExplicit: Boolean(env.DEFAULT_FROM),
    subscribeFormPostsPerMinute: read('SUBSCRIBE_FORM_POSTS_PER_MINUTE', positiveInt, 10),
    scheduleMinSeconds: read('SCHEDULE_MIN_SECONDS', z.coerce.number().int().min(0), 60),
    scheduleMaxDays: read('SCHEDULE_MAX_DAYS', positiveInt, 365),
    scheduleLateAfterSeconds: read('SCHEDULE_LATE_AFTER_SECONDS', z.coerce.number().int().min(0), 30),
    maxSendingKeysPerWorkspace: read('MAX_SENDING_KEYS_PER_WORKSPACE', positiveInt, 100),
    imports: {
      maxBytes: read('IMPORT_MAX_BYTES', positiveInt, 512 * 1024 * 1024),
      maxActivePerWorkspace: read('IMPORT_MAX_ACTIVE', positiveInt, 2),
    },
    postgres: {
      connectTimeoutMs: read('DATABASE_CONNECT_TIMEOUT_MS', positiveInt, PG.connectTimeoutMs),
      statementTimeoutMs: read('DATABASE_STATEMENT_TIMEOUT_MS', positiveInt, PG.statementTimeoutMs),
      idleInTransactionTimeoutMs: read('DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS', positiveInt, PG.idleInTransactionTimeoutMs),
      probeIntervalMs: read('DATABASE_PROBE_INTERVAL_MS', positiveInt, PG.probeIntervalMs),
    },
    shutdownGraceMs: read('SHUTDOWN_GRACE_MS', positiveInt, 20_000),
    deliveryPollMs: read('DELIVERY_POLL_MS', positiveInt, 500),
    http: {
      headersTimeoutMs: read('HTTP_HEADERS_TIMEOUT_MS', positiveInt, HTTP.headersTimeoutMs),
      requestTimeoutMs: read('HTTP_REQUEST_TIMEOUT_MS', positiveInt, HTTP.requestTimeoutMs),
      idleTimeoutMs: read('HTTP_IDLE_TIMEOUT_MS', positiveInt, HTTP.idleTimeoutMs),
      keepAliveTimeoutMs: read('HTTP_KEEP_ALIVE_TIMEOUT_MS', positiveInt, HTTP.keepAliveTimeoutMs),
      maxConnections: read('HTTP_MAX_CONNECTIONS', positiveInt, HTTP.maxConnections),
      // at least one send body (60 MB) must fit
      sendBodyBudgetBytes: read('SEND_BODY_BUDGET_MB', z.coerce.number().int().min(60), HTTP.sendBodyBudgetBytes / 2 ** 20) * 2 ** 20,
      sendBodyWaitMs: read('SEND_BODY_WAIT_MS', z.coerce.number().int().min(0), HTTP.sendBodyWaitMs),
    },
    inbound: {
      port: read('INBOUND_SMTP_PORT', portSchema, null as number | null),
      host: read('INBOUND_SMTP_HOST', z.string().min(1), '0.0.0.0'),
      maxBytes: read('INBOUND_MAX_BYTES', positiveInt, 10 * 2 ** 20),
      maxConnections: read('INBOUND_MAX_CONNECTIONS', positiveInt, 100),
      connectionsPerMinute: read('INBOUND_CONNECTIONS_PER_MINUTE', positiveInt, 60),
      socketTimeoutMs: read('INBOUND_SOCKET_TIMEOUT_MS', positiveInt, 60_000),
      bounceDomain: read(
        'BOUNCE_DOMAIN',
        z
          .string()
          .trim()
          .toLowerCase()
          .refine((v) => v.length <= 253 && /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/.test(v), 'must be a domain name such as bounces.example.com'),
        null as string | null,
      ),
    },
    webhooks: {
      retryScale: read('WEBHOOK_RETRY_SCALE', z.coerce.number().positive().max(1000), 1),
      allowPrivateTargets: read('WEBHOOK_ALLOW_PRIVATE_TARGETS', booleanSetting, false),
      concurrency: read('WEBHOOK_CONCURRENCY', positiveInt, 64),
      endpointConcurrency: read('WEBHOOK_ENDPOINT_CONCURRENCY', positiveInt, 16),
      timeoutMs: read('WEBHOOK_TIMEOUT_MS', positiveInt, 10_000),
      pollMs: read('WEBHOOK_POLL_MS', positiveInt, 500),
      maxDeferMs: read('WEBHOOK_MAX_DEFER_MS', z.coerce.number().int().min(0).max(3_600_000), 10_000),
    },
  };
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS=${config.http.headersTimeoutMs}: must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.http.requestTimeoutMs})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
