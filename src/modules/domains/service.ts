import { DEFAULT_REGION, REGIONS, type DomainsConfig, type Region } from '../../config/domains-config.js';
import { lockWorkspace } from '../../platform/db/workspace-lock.js';
import { inTransaction, type Db } from '../../platform/db/database.js';
import type { DomainDkimKeyRow, DomainRow, DomainStatus } from '../../platform/db/schema.js';
import { domainOfAddress, normalizeDomainName } from '../../platform/dns/domain-name.js';
import type { Resolver } from '../../platform/dns/resolver.js';
import { ApiError } from '../../platform/http/errors.js';
import { uuidv7 } from '../../platform/ids.js';
import { generateDkimKeyPair } from '../../platform/mail/dkim/dkim-keys.js';
import type { DkimKeyMaterial } from '../../platform/mail/dkim/signer-pool.js';
import { runPendingJobBy } from '../../platform/queue/jobs-store.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { enqueueJob } from '../../platform/queue/jobs-store.js';
import type { KeyService } from '../keys/index.js';
import { buildDnsRecords, type DnsRecordSpec } from './dns-records.js';
import { decideStatus, firstCheckAt, nextCheckAt, VERIFICATION_WINDOW_MS } from './lifecycle.js';
import { closestDomain, evaluateSender, type SenderVerdict, type SendingDomain } from './sending-domains.js';
import * as store from './store.js';
import { checkRecords, type RecordCheck } from './verification.js';
import { checksView, domainView, eventView, type DomainView } from './views.js';

/** The jobs queue of background re-checks; one job per domain, keyed by `verifyJobKey`. */
export const VERIFY_QUEUE = 'domains.verify';
export const verifyJobKey = (domainId: string): string => `domain:${domainId}:verify`;
/** Many attempts: a failing run (database away) must not end a domain's checks for good; success resets the count. */
const verifyJob = (domainId: string) => ({ queue: VERIFY_QUEUE, dedupeKey: verifyJobKey(domainId), payload: { domainId }, maxAttempts: 20 });

const CACHE_TTL_MS = 2000;
const VERIFICATION_PURPOSES = new Set(['spf', 'dkim']);
const MAIL_FROM_PURPOSES = new Set(['mail_from_mx', 'mail_from_spf']);

/** The sealed private key is bound to its row, so a value copied to another key does not decrypt. */
const sealContext = (keyId: string): string => `domain-dkim-key:${keyId}`;

export interface DomainServiceDeps {
  db: Db;
  signal: QueueSignal;
  config: { defaultFrom: string; domains: DomainsConfig };
  keys: KeyService;
  resolver: Resolver;
  /** the box sealed with the server key; rejects when no server key is available */
  secrets: () => Promise<SecretBox>;
}

export interface SigningIdentity {
  domain: SendingDomain;
  key: DkimKeyMaterial;
}

export interface CheckResult {
  row: DomainRow;
  keys: DomainDkimKeyRow[];
  checks: RecordCheck[];
}

export class TooManyDomainsError extends ApiError {
  constructor(max: number) {
    super('CONFLICT', `A workspace may have at most ${max} custom domain${max === 1 ? '' : 's'}; delete one first`);
  }
}

/** Custom sending domains: adding one, its DNS records, real verification, DKIM keys and their rotation. */
export class DomainService {
  private readonly cache = new Map<string, { until: number; domains: Promise<SendingDomain[]> }>();
  private readonly openedKeys = new Map<string, string>();

  constructor(private readonly deps: DomainServiceDeps) {}

  async add(workspaceId: string, input: { domain: string | undefined; region?: string | null | undefined }): Promise<DomainView> {
    if (typeof input.domain !== 'string') throw new ApiError('VALIDATION_ERROR', "Field 'domain' is required");
    const name = normalizeDomainName(input.domain);
    if (!name.ok) throw new ApiError('VALIDATION_ERROR', `Field 'domain' ${name.reason}`);
    const region = parseRegion(input.region);
    const max = this.deps.config.domains.maxDomainsPerWorkspace;
    // checked before the key generation, which costs CPU, and again under the lock, which makes it exact
    if ((await store.countLiveDomains(this.deps.db, workspaceId)) >= max) throw new TooManyDomainsError(max);
    const box = await this.deps.secrets();
    const pair = await generateDkimKeyPair();
    const now = new Date();
    const id = uuidv7();
    const keyId = uuidv7();
    let row: DomainRow;
    try {
      row = await inTransaction(this.deps.db, async (trx) => {
        if (!(await lockWorkspace(trx, workspaceId))) throw new ApiError('NOT_FOUND', `Workspace ${workspaceId} not found`);
        if ((await store.countLiveDomains(trx, workspaceId)) >= max) throw new TooManyDomainsError(max);
        const inserted = await store.insertDomain(trx, { id, workspaceId, name: name.ascii, region, mailFromDomain: `${this.deps.config.domains.mailFromSubdomain}.${name.ascii}`, now });
        await store.insertDkimKey(trx, { id: keyId, domainId: id, selector: this.deps.config.domains.dkimSelector, publicKey: pair.publicKey, privateKeySealed: box.seal(pair.privateKeyPem, sealContext(keyId)), status: 'active', now });
        await store.insertEvent(trx, id, 'domain.created', { region });
        await enqueueJob(trx, this.deps.signal, { ...verifyJob(id), runAt: firstCheckAt(now) });
        return inserted;
      });
    } catch (err) {
      // the partial unique index on (workspace, name) settles concurrent adds of one name
      if ((err as { code?: unknown }).code === '23505') throw new ApiError('CONFLICT', `Domain ${name.ascii} already exists in this workspace`);
      throw err;
    }
    this.forget(workspaceId);
    return this.view(row, await store.keysOf(this.deps.db, [row.id]));
  }

  async list(workspaceId: string): Promise<DomainView[]> {
    const rows = await store.listDomains(this.deps.db, workspaceId);
    const keys = await store.keysOf(this.deps.db, rows.map((r) => r.id));
    return rows.map((r) => this.view(r, keys.filter((k) => k.domain_id === r.id)));
  }

  async status(workspaceId: string, idOrName: string) {
    const row = await this.require(workspaceId, idOrName);
    const [keys, events] = await Promise.all([store.keysOf(this.deps.db, [row.id]), store.eventsOf(this.deps.db, row.id)]);
    return { ...this.view(row, keys), checks: checksView(row), events: events.map(eventView) };
  }

  /** The active re-check behind verify-domain: asks DNS now, answers with what it found. */
  async verify(workspaceId: string, idOrName: string) {
    const { row, keys } = await this.check(await this.require(workspaceId, idOrName), { manual: true });
    await this.scheduleRecheck(row, keys);
    const view = this.view(row, keys);
    const failing = view.dns_records.filter((r) => r.required && r.status !== 'verified' && r.status !== 'retiring');
    const message =
      row.verification_status === 'verified'
        ? failing.length === 0
          ? 'Domain verification successful'
          : `Domain verified; ${failing.map((r) => r.purpose).join(', ')} not yet`
        : `Domain not verified yet: ${failing.map((r) => `${r.purpose}: ${r.reason ?? 'not checked'}`).join(' | ')}`;
    return { ...view, status: row.verification_status, message, checks: checksView(row) };
  }

  /** Irreversible: the DKIM keys are destroyed and sending keys tied to the domain stop working. */
  async delete(workspaceId: string, idOrName: string): Promise<{ id: string; domain: string; deleted: true; revoked_keys: number }> {
    const row = await this.require(workspaceId, idOrName);
    await inTransaction(this.deps.db, async (trx) => {
      if (!(await store.lockDomain(trx, row.id))) throw new ApiError('NOT_FOUND', `Domain ${idOrName} not found`);
      await store.softDeleteDomain(trx, row.id, new Date());
      await store.insertEvent(trx, row.id, 'domain.deleted');
    });
    const revoked = await this.deps.keys.revokeDomainKeys(workspaceId, row.id);
    this.forget(workspaceId);
    return { id: row.id, domain: row.name, deleted: true, revoked_keys: revoked };
  }

  /**
   * Starts a DKIM key rotation: a new key under a new selector, published next to the current one. Signing
   * switches when a check sees the new record, so no message is ever signed with a key receivers cannot find.
   */
  async rotateDkim(workspaceId: string, idOrName: string): Promise<{ domain: DomainView; started: boolean }> {
    const row = await this.require(workspaceId, idOrName);
    if (row.verification_status !== 'verified') {
      throw new ApiError('CONFLICT', `Domain ${row.name} is not verified (status: ${row.verification_status}); publish its current DKIM record first, there is nothing to rotate yet`);
    }
    const existing = await store.keysOf(this.deps.db, [row.id]);
    if (existing.some((k) => k.status === 'pending')) return { domain: this.view(row, existing), started: false };
    const box = await this.deps.secrets();
    const pair = await generateDkimKeyPair();
    const now = new Date();
    const keyId = uuidv7();
    try {
      await inTransaction(this.deps.db, async (trx) => {
        const selector = nextSelector(this.deps.config.domains.dkimSelector, await store.selectorsOf(trx, row.id));
        await store.insertDkimKey(trx, { id: keyId, domainId: row.id, selector, publicKey: pair.publicKey, privateKeySealed: box.seal(pair.privateKeyPem, sealContext(keyId)), status: 'pending', now });
        await store.insertEvent(trx, row.id, 'domain.dkim_rotation_started', { selector });
      });
    } catch (err) {
      if ((err as { code?: unknown }).code !== '23505') throw err; // a concurrent rotation won
    }
    const keys = await store.keysOf(this.deps.db, [row.id]);
    await this.scheduleRecheck(row, keys, firstCheckAt(now));
    return { domain: this.view(row, keys), started: true };
  }

  /** A regular key that may send only from this domain; only for a verified domain (400 otherwise). */
  async createSendingKey(workspaceId: string, input: { domainId: string; name?: string; expiresAt?: Date | null }) {
    const row = await this.require(workspaceId, input.domainId);
    if (row.verification_status !== 'verified') {
      throw new ApiError('DOMAIN_NOT_VERIFIED', `Domain ${row.name} is not verified (status: ${row.verification_status}); publish its DNS records and verify it first`, {
        status: 400,
        details: { domain: row.name, verification_status: row.verification_status },
      });
    }
    const created = await this.deps.keys.createRegularKey({ workspaceId, name: input.name ?? `${row.name} sending key`, domainId: row.id, expiresAt: input.expiresAt ?? null });
    const k = created.key;
    return {
      api_key: { id: k.id, key_id: k.key_id, name: k.name, is_active: k.is_active, expires_at: k.expires_at, created_at: k.created_at, domain_id: row.id, domain: row.name },
      secret_key: created.secretKey,
    };
  }

  /** One background re-check (the jobs queue); returns when to run again, or null to stop. */
  async runScheduledCheck(domainId: string): Promise<Date | null> {
    const row = await store.findDomainById(this.deps.db, domainId);
    if (!row) return null;
    const result = await this.check(row, { manual: false });
    return this.nextCheck(result.row, result.keys);
  }

  // --- sending: rules and signing -------------------------------------------------------------------------

  /**
   * The workspace's domains with their signing keys, cached for two seconds like API keys. The promise is
   * cached, so a burst of deliveries when the entry expires makes one query, not one each.
   */
  sendingDomains(workspaceId: string, now = Date.now()): Promise<SendingDomain[]> {
    const hit = this.cache.get(workspaceId);
    if (hit && hit.until > now) return hit.domains;
    const domains = store.sendingDomainsOf(this.deps.db, workspaceId).then((rows) =>
      rows.map((r) => ({
        id: r.id,
        name: r.name,
        region: r.region,
        status: r.verification_status,
        mailFromDomain: r.mail_from_domain,
        mailFromVerified: r.mail_from_status === 'verified',
        key: r.key_id && r.selector && r.private_key_sealed ? { id: r.key_id, selector: r.selector, sealed: r.private_key_sealed } : null,
      })),
    );
    if (this.cache.size > 10_000) this.cache.clear();
    const entry = { until: now + CACHE_TTL_MS, domains };
    this.cache.set(workspaceId, entry);
    domains.catch(() => {
      if (this.cache.get(workspaceId) === entry) this.cache.delete(workspaceId);
    });
    return domains;
  }

  async evaluateSender(workspaceId: string, keyDomainId: string | null, fromEmail: string): Promise<SenderVerdict> {
    return evaluateSender({ domains: await this.sendingDomains(workspaceId), keyDomainId, fromEmail, defaultFrom: this.deps.config.defaultFrom });
  }

  /** The verified domain (the closest one, a parent counts) whose key signs mail from this address, if any. */
  async signingIdentity(workspaceId: string, fromEmail: string): Promise<SigningIdentity | null> {
    const domain = closestDomain(await this.sendingDomains(workspaceId), domainOfAddress(fromEmail), (d) => d.status === 'verified' && d.key !== null);
    if (!domain?.key) return null;
    let pem = this.openedKeys.get(domain.key.id);
    if (pem === undefined) {
      pem = (await this.deps.secrets()).open(domain.key.sealed, sealContext(domain.key.id));
      if (this.openedKeys.size > 10_000) this.openedKeys.clear();
      this.openedKeys.set(domain.key.id, pem);
    }
    return { domain, key: { id: domain.key.id, domain: domain.name, selector: domain.key.selector, privateKeyPem: pem } };
  }

  /**
   * Whether mail to this domain is a report for us: it is the verified MAIL FROM domain of a custom domain
   * (the inbound listener accepts nothing else; README, "Bounces and complaints").
   */
  async isReturnPathDomain(name: string): Promise<boolean> {
    if (name.length > 253) return false;
    const row = await this.deps.db
      .selectFrom('domains')
      .select('id')
      .where('mail_from_domain', '=', name.toLowerCase())
      .where('mail_from_status', '=', 'verified')
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  // --- internals ------------------------------------------------------------------------------------------

  private forget(workspaceId: string): void {
    this.cache.delete(workspaceId);
  }

  private async require(workspaceId: string, idOrName: string): Promise<DomainRow> {
    const row = await store.findDomain(this.deps.db, workspaceId, idOrName);
    if (!row) throw new ApiError('NOT_FOUND', `Domain ${idOrName} not found`);
    return row;
  }

  private records(row: DomainRow, keys: DomainDkimKeyRow[]): DnsRecordSpec[] {
    const d = this.deps.config.domains;
    const region = d.regions[row.region as Region] ?? d.regions[DEFAULT_REGION];
    return buildDnsRecords({
      domain: row.name,
      mailFromDomain: row.mail_from_domain,
      spfMechanisms: region.spfMechanisms,
      bounceHost: d.bounceHost,
      dmarcReportEmail: d.dmarcReportEmail,
      dkimKeys: keys.filter((k) => k.domain_id === row.id).map((k) => ({ selector: k.selector, publicKey: k.public_key, status: k.status })),
    });
  }

  private view(row: DomainRow, keys: DomainDkimKeyRow[]): DomainView {
    return domainView(row, this.records(row, keys), keys);
  }

  /**
   * Checks every record against DNS, then records the outcome under the row lock: statuses, the events of
   * each change, and the switch to a rotated key once its record is seen. A check asked for by hand restarts
   * the 72-hour window of a domain that is not verified.
   */
  private async check(row: DomainRow, opts: { manual: boolean }): Promise<CheckResult> {
    const keys = await store.keysOf(this.deps.db, [row.id]);
    const now = new Date();
    const checks = await checkRecords(this.deps.resolver, this.records(row, keys), { now, timeLimitMs: this.deps.config.domains.verifyTimeoutMs });
    const group = (purposes: Set<string>) => checks.filter((c) => purposes.has(c.purpose));
    const updated = await inTransaction(this.deps.db, async (trx) => {
      const current = await store.lockDomain(trx, row.id);
      if (!current) throw new ApiError('NOT_FOUND', `Domain ${row.id} not found`);
      const restart = opts.manual && current.verification_status !== 'verified';
      let windowStart = restart ? now : current.verification_started_at;
      const windowExpired = now.getTime() - windowStart.getTime() >= VERIFICATION_WINDOW_MS;
      const restarted = (s: DomainStatus): DomainStatus => (opts.manual && s === 'failed' ? 'pending' : s);
      const verification = decideStatus(restarted(current.verification_status), group(VERIFICATION_PURPOSES), windowExpired);
      const mailFrom = decideStatus(restarted(current.mail_from_status), group(MAIL_FROM_PURPOSES), windowExpired);
      const events: [string, Record<string, unknown>][] = [];
      const failing = (purposes: Set<string>) => group(purposes).filter((c) => c.status === 'failed').map((c) => ({ purpose: c.purpose, name: c.name, reason: c.reason }));
      if (verification !== current.verification_status) {
        if (verification === 'verified') events.push(['domain.verified', { previous: current.verification_status }]);
        else if (verification === 'failed') {
          const disappeared = current.verification_status === 'verified';
          events.push(['domain.verification_failed', { reason: disappeared ? 'records_disappeared' : 'not_verified_within_72_hours', failing: failing(VERIFICATION_PURPOSES) }]);
        }
      }
      if (mailFrom !== current.mail_from_status) {
        if (mailFrom === 'verified') events.push(['domain.mail_from_verified', {}]);
        else if (mailFrom === 'failed') events.push(['domain.mail_from_failed', { reason: current.mail_from_status === 'verified' ? 'records_disappeared' : 'not_verified_within_72_hours', failing: failing(MAIL_FROM_PURPOSES) }]);
      }
      // records gone from a verified domain: look again on the backoff schedule for another 72 hours
      if ((verification === 'failed' && current.verification_status === 'verified') || (mailFrom === 'failed' && current.mail_from_status === 'verified')) windowStart = now;
      const rotation = checks.find((c) => c.purpose === 'dkim_rotation');
      if (rotation?.status === 'verified') {
        await store.promotePendingKey(trx, row.id, now);
        events.push(['domain.dkim_rotated', { from_selector: keys.find((k) => k.status === 'active')?.selector ?? null, to_selector: rotation.selector ?? null }]);
      }
      for (const [type, detail] of events) await store.insertEvent(trx, row.id, type, detail);
      return store.updateDomainState(trx, row.id, {
        verificationStatus: verification,
        mailFromStatus: mailFrom,
        checks,
        verificationStartedAt: windowStart,
        verifiedAt: verification === 'verified' ? (current.verified_at ?? now) : null,
        mailFromVerifiedAt: mailFrom === 'verified' ? (current.mail_from_verified_at ?? now) : null,
        now,
      });
    });
    this.forget(row.workspace_id);
    const freshKeys = checks.some((c) => c.purpose === 'dkim_rotation' && c.status === 'verified') ? await store.keysOf(this.deps.db, [row.id]) : keys;
    return { row: updated, keys: freshKeys, checks };
  }

  private nextCheck(row: DomainRow, keys: DomainDkimKeyRow[]): Date | null {
    const pending = keys.find((k) => k.status === 'pending');
    return nextCheckAt({
      verificationStatus: row.verification_status,
      mailFromStatus: row.mail_from_status,
      windowStartedAt: row.verification_started_at,
      rotationStartedAt: pending?.created_at ?? null,
      now: new Date(),
    });
  }

  /** Makes sure a background check is scheduled (no later than `by`, or when the schedule says). */
  private async scheduleRecheck(row: DomainRow, keys: DomainDkimKeyRow[], by?: Date): Promise<void> {
    const at = by ?? this.nextCheck(row, keys);
    if (!at) return;
    await enqueueJob(this.deps.db, this.deps.signal, { ...verifyJob(row.id), runAt: at });
    await runPendingJobBy(this.deps.db, verifyJobKey(row.id), at);
  }
}

function parseRegion(value: unknown): Region {
  if (value === undefined || value === null || value === '') return DEFAULT_REGION;
  if (typeof value === 'string' && (REGIONS as readonly string[]).includes(value.trim().toLowerCase())) return value.trim().toLowerCase() as Region;
  throw new ApiError('VALIDATION_ERROR', `Field 'region' must be one of ${REGIONS.join(', ')}`);
}

/** keplars → keplars2 → keplars3 …: a selector never used by the domain before. */
export function nextSelector(base: string, used: string[]): string {
  const taken = new Set(used);
  for (let n = 2; ; n++) if (!taken.has(`${base}${n}`)) return `${base}${n}`;
}
