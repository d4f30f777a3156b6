import type { Db } from '../../platform/db/database.js';
import type { ReturnPathSigner, ReturnPathTarget } from '../../platform/mail/verp.js';
import { recordAsyncOutcome } from '../delivery/index.js';
import type { DomainService } from '../domains/index.js';
import { classifyStatus, readReport, type DsnRecipient, type InboundReport } from './report.js';

/** What became of one received message, for the log and the tests. */
export interface InboundResult {
  report: InboundReport['kind'];
  /** the email it was matched to, and how */
  emailId: string | null;
  matchedBy: 'return_path' | 'message_id' | null;
  /** outcomes recorded (a report sent twice records nothing the second time) */
  recorded: { recipient: string; kind: 'bounced' | 'complained'; bounceClass: string | null }[];
}

const MESSAGE_ID = /^<([a-z0-9_-]{1,100})@[^<>\s]{1,255}>$/i;

/**
 * Turns reports received by the inbound listener into recipient outcomes (README, "Bounces and complaints"): a
 * failed DSN recipient becomes a bounce with its class, an ARF report a complaint, and the delivery module
 * records them (marks, timeline, suppression). A delayed DSN, an auto-reply or anything unreadable records
 * nothing. The email is found by the signed return path the report was sent to; a return path whose token does
 * not check out counts as none, and then the returned original's Message-ID names the email, if it is one of ours.
 */
export class InboundService {
  constructor(
    private readonly deps: {
      db: Db;
      domains: Pick<DomainService, 'isReturnPathDomain'>;
      returnPaths: ReturnPathSigner;
      /** BOUNCE_DOMAIN: the return-path domain of mail sent as DEFAULT_FROM */
      bounceDomain: string | null;
    },
  ) {}

  /** Whether the listener takes mail for this domain: BOUNCE_DOMAIN or a verified MAIL FROM domain, nothing else. */
  acceptsDomain(domain: string): Promise<boolean> {
    const d = domain.toLowerCase().replace(/\.$/, '');
    if (this.deps.bounceDomain !== null && d === this.deps.bounceDomain) return Promise.resolve(true);
    return this.deps.domains.isReturnPathDomain(d);
  }

  async receive(recipients: readonly string[], raw: Buffer): Promise<InboundResult> {
    const report = await readReport(raw);
    const result: InboundResult = { report: report.kind, emailId: null, matchedBy: null, recorded: [] };
    if (report.kind !== 'delivery_status' && report.kind !== 'feedback') return result;

    let target: ReturnPathTarget | null = null;
    for (const r of recipients.slice(0, 100)) {
      target = this.deps.returnPaths.read(r);
      if (target) break;
    }
    let matchedBy: InboundResult['matchedBy'] = target ? 'return_path' : null;
    if (!target && report.originalMessageId) {
      const id = MESSAGE_ID.exec(report.originalMessageId)?.[1];
      const row = id
        ? await this.deps.db.selectFrom('messages').select('id').where('id', '=', id).where('message_id_header', '=', report.originalMessageId).executeTakeFirst()
        : undefined;
      if (row) {
        target = { emailId: row.id, position: null };
        matchedBy = 'message_id';
      }
    }
    if (!target) return result;
    const emailRecipients = await this.deps.db
      .selectFrom('message_recipients')
      .select(['position', 'email'])
      .where('message_id', '=', target.emailId)
      .orderBy('position')
      .limit(10_000)
      .execute();
    if (emailRecipients.length === 0) return result;
    result.emailId = target.emailId;
    result.matchedBy = matchedBy;

    const byAddress = new Map(emailRecipients.map((r) => [r.email.toLowerCase(), r.email]));
    const positioned = emailRecipients.find((r) => r.position === target.position)?.email ?? null;
    const only = emailRecipients.length === 1 ? emailRecipients[0]!.email : null;
    // a report names its recipient; else the return path's position, or the email's only recipient
    const resolve = (named: (string | null)[], fallback: boolean): string | null => {
      for (const n of named) if (n && byAddress.has(n.toLowerCase())) return byAddress.get(n.toLowerCase())!;
      return fallback ? (positioned ?? only) : null;
    };

    if (report.kind === 'feedback') {
      const recipient = resolve([report.originalRcptTo], true);
      if (recipient && (await recordAsyncOutcome(this.deps.db, { emailId: target.emailId, recipient, kind: 'complained', bounceClass: null, reason: `feedback report: ${report.feedbackType}` })).recorded) {
        result.recorded.push({ recipient, kind: 'complained', bounceClass: null });
      }
      return result;
    }

    // only `failed` is a bounce; `delayed` (still retrying), `delivered`, `relayed` and `expanded` record nothing
    const failed = report.recipients.filter((r) => r.action === 'failed');
    for (const r of failed) {
      // a plain-text bounce's address is only a guess from its words: it must be one of the email's recipients
      const recipient = resolve([r.finalRecipient, r.originalRecipient], failed.length === 1 && report.style === 'rfc3464');
      if (!recipient) continue;
      const bounceClass = classifyStatus(r.status, r.diagnostic);
      const recorded = await recordAsyncOutcome(this.deps.db, {
        emailId: target.emailId,
        recipient,
        kind: 'bounced',
        bounceClass,
        reason: reasonOf(r),
        ...(r.status ? { code: r.status } : {}),
      });
      if (recorded.recorded) result.recorded.push({ recipient, kind: 'bounced', bounceClass });
    }
    return result;
  }
}

const reasonOf = (r: DsnRecipient): string => r.diagnostic?.replace(/^smtp;\s*/i, '') ?? `delivery status ${r.status ?? 'unknown'}`;
