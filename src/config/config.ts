import path from 'node:path';
import { z } from 'zod';
import { parseDnsServers } from '../platform/dns/resolver.js';
import { loadContentConfig, type ContentConfig } from './content-config.js';
import { loadDomainsConfig, type DomainsConfig } from './domains-config.js';

export const TIERS = ['instant', 'high', 'async', 'bulk'] as const;
export type Tier = (typeof TIERS)[number];

export const PLANS = ['FREE', 'LAUNCH', 'CUSTOM', 'ENTERPRISE'] as const;
export type Plan = (typeof PLANS)[number];

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
  heloName: string;
  /** custom sending domains: DKIM, MAIL FROM, DMARC, the server key, per-region delivery */
  domains: DomainsConfig;
  /** templates, MJML and HTML-to-text: their limits and worker threads */
  content: ContentConfig;
  publicUrl: string;
  /** false when PUBLIC_URL was derived from HOST and PORT; the server then corrects it once it knows its port */
  publicUrlExplicit: boolean;
  plans: Record<Plan, PlanLimits>;
  unauthenticatedRequestsPerSecond: number;
  retryBaseMs: number;
  leaseMs: number;
  workerConcurrency: number;
  instantWorkers: number;
  smtpMaxConnections: number;
  logLevel: string;
  messageIdDomain: string;
  defaultFrom: string;
  scheduleMinSeconds: number;
  scheduleMaxDays: number;
  scheduleLateAfterSeconds: number;
}

const portSchema = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
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
      problems.push(`${name}=${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
      return fallback;
    }
    return parsed.data;
  }

  const port = read('PORT', portSchema, 8080);
  const host = read('HOST', z.string().min(1), '127.0.0.1');
  const databaseUrl = read(
    'DATABASE_URL',
    z.string().refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL'),
    null as string | null,
  );
  const dataDir = path.resolve(read('DATA_DIR', z.string().min(1), './data'));
  let dnsServers: string[] | undefined;
  if (env.DNS_SERVERS) {
    try {
      dnsServers = parseDnsServers(env.DNS_SERVERS);
    } catch (err) {
      problems.push(`DNS_SERVERS=${JSON.stringify(env.DNS_SERVERS)}: ${(err as Error).message}`);
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
    heloName,
    domains: loadDomainsConfig({ read, problems, deliveryMode, smtpUrl, heloName }),
    content: loadContentConfig(read),
    publicUrl,
    publicUrlExplicit: Boolean(env.PUBLIC_URL),
    plans,
    unauthenticatedRequestsPerSecond: read('UNAUTHENTICATED_REQUESTS_PER_SECOND', positiveInt, 50),
    retryBaseMs: read('RETRY_BASE_MS', positiveInt, 1000),
    leaseMs: read('DELIVERY_LEASE_MS', positiveInt, 60_000),
    instantWorkers: read('INSTANT_WORKERS', positiveInt, 4),
    smtpMaxConnections,
    // through a relay, a few messages per connection keep every connection busy while the next ones are composed,
    // signed and claimed (2 per connection left connections idle behind DKIM signing); many more only queue
    // inside the process and slow the event loop for everything else; direct delivery fans out to many servers
    workerConcurrency: read('WORKER_CONCURRENCY', positiveInt, deliveryMode === 'smtp' ? smtpMaxConnections * 4 : 32),
    logLevel: read('LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
    messageIdDomain: read('MESSAGE_ID_DOMAIN', z.string().min(1), new URL(publicUrl).hostname),
    defaultFrom: read('DEFAULT_FROM', z.email(), 'noreply@localhost.localdomain'),
    scheduleMinSeconds: read('SCHEDULE_MIN_SECONDS', z.coerce.number().int().min(0), 60),
    scheduleMaxDays: read('SCHEDULE_MAX_DAYS', positiveInt, 365),
    scheduleLateAfterSeconds: read('SCHEDULE_LATE_AFTER_SECONDS', z.coerce.number().int().min(0), 30),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
