import type { Config } from '../config/config.js';
import type { Database } from '../platform/db/database.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { createResolver, type Resolver } from '../platform/dns/resolver.js';
import type { SecretBox } from '../platform/secret-box.js';
import { BackgroundPacer } from '../platform/queue/background-pacer.js';
import { QueueSignal } from '../platform/queue/signal.js';
import { ReturnPathSigner } from '../platform/mail/verp.js';
import { loadSharedSecret, TokenSigner } from '../platform/tokens.js';
import { compiledScript } from '../platform/workers/compiled-script.js';
import { ContentPool } from '../platform/workers/content-pool.js';
import { AutomationService, StepRunner } from '../modules/automations/index.js';
import { AudienceService, ContactImportService, ContactService } from '../modules/contacts/index.js';
import { DomainSenderPolicy, DomainService } from '../modules/domains/index.js';
import { EmailService } from '../modules/emails/index.js';
import { HostedPageService, SubscribePageService } from '../modules/hosted/index.js';
import { InboundService } from '../modules/inbound/index.js';
import { KeyService } from '../modules/keys/index.js';
import { PlanService } from '../modules/plans/index.js';
import { SendingService } from '../modules/sending/index.js';
import { SuppressionService } from '../modules/suppressions/index.js';
import { TemplateRenderer, TemplateService } from '../modules/templates/index.js';
import { TrackingService } from '../modules/tracking/index.js';
import { WebhookService } from '../modules/webhooks/index.js';
import { WorkspaceService } from '../modules/workspaces/index.js';
import { serverSecrets } from './server-secret.js';

export interface Services {
  config: Config;
  database: Database;
  signal: QueueSignal;
  /** background work of this process gives way to instant mail (README, "Priority tiers and the queue") */
  pacer: BackgroundPacer;
  /** worker threads for templates, MJML and large HTML (close it on shutdown) */
  content: ContentPool;
  tokens: TokenSigner;
  keys: KeyService;
  workspaces: WorkspaceService;
  plans: PlanService;
  templates: TemplateService;
  sending: SendingService;
  emails: EmailService;
  domains: DomainService;
  hosted: HostedPageService;
  contacts: ContactService;
  suppressions: SuppressionService;
  audiences: AudienceService;
  subscribe: SubscribePageService;
  contactImports: ContactImportService;
  tracking: TrackingService;
  /** signs and reads the VERP return paths (platform/mail/verp.ts) */
  returnPaths: ReturnPathSigner;
  /** bounces and complaints received by the inbound listener */
  inbound: InboundService;
  webhooks: WebhookService;
  automations: AutomationService;
  /** the server key that opens sealed secrets (DKIM keys, webhook secrets) */
  secrets: () => Promise<SecretBox>;
  resolver: Resolver;
}

/** Background work stays paced for this long after the last instant email (README, "Priority tiers and the queue"). */
const PACED_AFTER_INSTANT_MS = 5000;
/** The longest rest after one unit of background work while paced. */
const LONGEST_REST_MS = 1000;

/** Call after migrations: the URL-signing secret lives in the database. `metrics` counts what the services do (a server's, not a CLI command's). */
export async function createServices(config: Config, database: Database, metrics?: Metrics): Promise<Services> {
  const db = database.db;
  const signal = new QueueSignal(database);
  const pacer = new BackgroundPacer({ share: config.backgroundShare, windowMs: PACED_AFTER_INSTANT_MS, maxRestMs: LONGEST_REST_MS });
  // the tier's topic is sent when an instant email commits, to every process on PostgreSQL (this one's too)
  signal.onWake((topic) => {
    if (topic === 'instant') pacer.noteInstant();
  });
  const keys = new KeyService(db, config.maxSendingKeysPerWorkspace);
  const tokens = new TokenSigner(await loadSharedSecret(db, 'url-signing-secret'));
  const plans = new PlanService(db, config.plans);
  // threads start on first use, so commands that never render start none
  const content = new ContentPool({ script: compiledScript('./content-worker.js', import.meta.url), threads: config.content.threads, memoryMb: config.content.threadMemoryMb });
  const templates = new TemplateService(db, new TemplateRenderer(content, config.content), config.content);
  const emails = new EmailService(db);
  const contacts = new ContactService(db);
  const suppressions = new SuppressionService(db);
  const audiences = new AudienceService(db, tokens, config);
  const tracking = new TrackingService({ db, tokens, pool: content, config });
  const returnPaths = new ReturnPathSigner(await loadSharedSecret(db, 'return-path-secret'));
  const resolver = createResolver(config.dnsServers);
  const secrets = serverSecrets(config);
  const domains = new DomainService({ db, signal, config, keys, resolver, secrets });
  const sending = new SendingService({
    db,
    signal,
    config,
    templates,
    plans,
    tokens,
    // only the capture transport (development) accepts a from address outside the custom-domain rules
    senderPolicy: new DomainSenderPolicy(domains, config.deliveryMode === 'capture'),
    tracker: tracking,
    // PGlite has one connection, so more than one commit in flight would only queue
    maxConcurrentCommits: database.kind === 'pglite' ? 1 : 4,
    ...(metrics ? { onAccepted: (tier: string) => metrics.accepted.inc({ tier }) } : {}),
  });
  return {
    config,
    database,
    signal,
    pacer,
    content,
    tokens,
    keys,
    workspaces: new WorkspaceService(db, keys, config.defaultPlan),
    plans,
    templates,
    sending,
    emails,
    domains,
    hosted: new HostedPageService({ tokens, emails, suppressions, contacts }),
    contacts,
    suppressions,
    audiences,
    subscribe: new SubscribePageService({
      tokens,
      audiences,
      contacts,
      sending,
      site: config,
      // the capture transport keeps anything; elsewhere the built-in placeholder sender cannot deliver (README, "Hosted subscribe page")
      canSend: config.defaultFromExplicit || config.deliveryMode === 'capture',
    }),
    contactImports: new ContactImportService({ db, signal, limits: config.imports }),
    tracking,
    returnPaths,
    inbound: new InboundService({ db, domains, returnPaths, bounceDomain: config.inbound.bounceDomain }),
    webhooks: new WebhookService({ db, signal, resolver, secrets, settings: config.webhooks }),
    // senders of send steps follow the rules of sending: the capture transport accepts any from address
    automations: new AutomationService({ db, signal, pacer, contacts, audiences, templates, domains, acceptAnyFrom: config.deliveryMode === 'capture' }),
    secrets,
    resolver,
  };
}

/** The automation engine's step runner (workers/automation-worker.ts runs it): senders are checked as at the API. */
export function createStepRunner(s: Services, log: Logger): StepRunner {
  const anySender = s.config.deliveryMode === 'capture';
  return new StepRunner({
    db: s.database.db,
    sending: s.sending,
    contacts: s.contacts,
    plans: s.plans,
    log,
    retryBaseMs: s.config.retryBaseMs,
    checkSender: async (workspaceId, from) => {
      if (anySender) return null;
      const verdict = await s.domains.evaluateSender(workspaceId, null, from);
      return verdict.allowed ? null : verdict.reason;
    },
  });
}
