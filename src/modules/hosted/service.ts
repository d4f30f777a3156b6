import type { TokenSigner } from '../../platform/tokens.js';
import type { ContactService } from '../contacts/index.js';
import type { EmailService, PageContent, UnsubscribeTarget } from '../emails/index.js';
import { UNSUBSCRIBE_TOKEN_PURPOSE } from '../sending/index.js';
import type { SuppressionService } from '../suppressions/index.js';

/** The purpose of the link on the "you are unsubscribed" page: an unsubscribe link never works as one. */
export const RESUBSCRIBE_TOKEN_PURPOSE = 'resubscribe';
/** Recipient positions are smallints (migrations/001_core.sql) and a send has far fewer than 10,000 recipients. */
const POSITION = /^(?:0|[1-9]\d{0,3})$/;

/**
 * What an unsubscribe did: `suppressed` (the address left the workspace's bulk mail), `left-audience` (the
 * recipient left the audience the email went to), or `recorded` (an email to several people whose link names
 * none of them: the request is on the email's timeline for the sender, nothing else changes). The first two
 * carry the token of the page's resubscribe button.
 */
export type UnsubscribeResult = { kind: 'not-found' } | { kind: 'recorded' } | { kind: 'suppressed' | 'left-audience'; resubscribeToken: string };
export type ResubscribeResult = { kind: 'not-found' } | { kind: 'resubscribed' | 'unchanged' };

interface Link {
  emailId: string;
  /** null for a link signed for the email only (every link before recipients were named, and emails to several) */
  position: number | null;
  /** the signed value, re-signed for the resubscribe link */
  value: string;
}

/**
 * The pages behind `{{viewInBrowserUrl}}` and `{{unsubscribeUrl}}` (decisions §15): a token signed per email and
 * purpose is the only permission, and the emails module answers for the email. An unsubscribe acts on the
 * recipient the token names (README, "Unsubscribe and the suppression list").
 */
export class HostedPageService {
  constructor(
    private readonly deps: {
      tokens: TokenSigner;
      emails: Pick<EmailService, 'pageContent' | 'unsubscribeTarget' | 'recordSubscriptionEvent'>;
      suppressions: Pick<SuppressionService, 'addUnsubscribe' | 'liftUnsubscribe'>;
      contacts: Pick<ContactService, 'setSubscriptionByEmail'>;
    },
  ) {}

  /** The email a view link shows, or undefined when the link is not valid (or the email is gone). */
  async viewable(token: string): Promise<PageContent | undefined> {
    const id = this.deps.tokens.verify('view', token);
    return id ? this.deps.emails.pageContent(id) : undefined;
  }

  /** True when the link is valid and its email (and the recipient it names) is still there. */
  async isUnsubscribeLink(token: string): Promise<boolean> {
    return (await this.target(UNSUBSCRIBE_TOKEN_PURPOSE, token)) !== undefined;
  }

  /**
   * One-click (RFC 8058) or the page's button. Repeats change nothing and write no second event: the suppression's
   * key, the membership's state, or (for `recorded`) the timeline itself says it was done.
   */
  async unsubscribe(token: string, via: string): Promise<UnsubscribeResult> {
    const found = await this.target(UNSUBSCRIBE_TOKEN_PURPOSE, token);
    if (!found) return { kind: 'not-found' };
    const { link, target } = found;
    const { recipient } = target;
    if (!recipient) {
      await this.deps.emails.recordSubscriptionEvent(link.emailId, 'unsubscribed', null, { via }, { once: true });
      return { kind: 'recorded' };
    }
    const resubscribeToken = this.deps.tokens.sign(RESUBSCRIBE_TOKEN_PURPOSE, link.value);
    if (await this.leaveAudience(target, link.emailId, 'unsubscribed', via)) return { kind: 'left-audience', resubscribeToken };
    await this.deps.suppressions.addUnsubscribe({ workspaceId: target.workspaceId, email: recipient.email, emailId: link.emailId, detail: { via } });
    return { kind: 'suppressed', resubscribeToken };
  }

  /** The "you are unsubscribed" page's button: undoes what the unsubscribe did (never a suppression for another reason). */
  async resubscribe(token: string): Promise<ResubscribeResult> {
    const found = await this.target(RESUBSCRIBE_TOKEN_PURPOSE, token);
    const recipient = found?.target.recipient;
    if (!found || !recipient) return { kind: 'not-found' };
    const { link, target } = found;
    const via = 'resubscribe link';
    if (await this.leaveAudience(target, link.emailId, 'resubscribed', via)) return { kind: 'resubscribed' };
    const lifted = await this.deps.suppressions.liftUnsubscribe({ workspaceId: target.workspaceId, email: recipient.email, emailId: link.emailId, detail: { via } });
    return { kind: lifted ? 'resubscribed' : 'unchanged' };
  }

  /**
   * For an email sent to an audience whose member the recipient is: the membership changes (its contact event
   * says so) and the email's timeline gets the entry when it did. False when the email has no audience or the
   * recipient is not in it: the suppression list answers then.
   */
  private async leaveAudience(target: UnsubscribeTarget, emailId: string, type: 'unsubscribed' | 'resubscribed', via: string): Promise<boolean> {
    if (!target.audienceId || !target.recipient) return false;
    const status = type === 'unsubscribed' ? 'unsubscribed' : 'subscribed';
    const outcome = await this.deps.contacts.setSubscriptionByEmail(target.workspaceId, target.recipient.email, target.audienceId, status, `unsubscribe link of email ${emailId}`);
    if (outcome === 'not-member') return false;
    if (outcome === 'changed') await this.deps.emails.recordSubscriptionEvent(emailId, type, target.recipient.email, { via, audience_id: target.audienceId }, { once: false });
    return true;
  }

  /** What a link acts on; undefined when it is not valid, its email is gone, or the recipient it names is not there. */
  private async target(purpose: string, token: string): Promise<{ link: Link; target: UnsubscribeTarget } | undefined> {
    const link = this.read(purpose, token);
    const target = link && (await this.deps.emails.unsubscribeTarget(link.emailId, link.position));
    if (!link || !target || (link.position !== null && !target.recipient)) return undefined;
    return { link, target };
  }

  /** `<email id>` or `<email id>/<recipient position>` (sending's hostedUrls), signed for `purpose`. */
  private read(purpose: string, token: string): Link | null {
    const value = this.deps.tokens.verify(purpose, token);
    if (value === null) return null;
    const slash = value.indexOf('/');
    if (slash < 0) return { emailId: value, position: null, value };
    const position = value.slice(slash + 1);
    return POSITION.test(position) ? { emailId: value.slice(0, slash), position: Number(position), value } : null;
  }
}
