/**
 * The words of an email's lifecycle, declared once: the delivery tiers, the statuses of an email and of each of
 * its recipients, the types of its timeline events, and what one SMTP attempt says about a recipient. The
 * database schema (platform/db/schema.ts) types its columns with them and every writer imports them; the README's
 * "Email status and logs" section says what each word means.
 *
 * They live in platform/ rather than in a module because platform/ is the one layer every other layer may import
 * (eslint.config.js): the schema and the transports (platform/mail) sit below modules/ and must speak the same
 * words as the modules that choose them. This file holds words only; the rules that pick one stay in the modules
 * (modules/delivery/outcome.ts).
 */

/** Delivery tiers, most urgent first (decisions §2); the index is the claim priority. */
export const TIERS = ['instant', 'high', 'async', 'bulk'] as const;
export type Tier = (typeof TIERS)[number];

/** An email's status (decisions §4); `suppressed`: every recipient was on the workspace's suppression list. */
export const EMAIL_STATUSES = ['queued', 'scheduled', 'sending', 'sent', 'delivered', 'deferred', 'bounced', 'failed', 'cancelled', 'suppressed'] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

/**
 * One recipient's status: `pending` until its first attempt; `sent` when the relay (SMTP_URL) took it and
 * `delivered` when the recipient's own mail server (or the capture store) did; `deferred` while a temporary
 * failure waits for a retry; `bounced` when refused for good (a 5xx reply, or a domain that takes no mail);
 * `failed` when its temporary failures outlasted the retries; `suppressed` when it was not attempted because the
 * address is on the workspace's suppression list for the email's tier (modules/suppressions).
 */
export const RECIPIENT_STATUSES = ['pending', 'sent', 'delivered', 'deferred', 'bounced', 'failed', 'suppressed'] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

/** The statuses a recipient ends in: no further attempt is made for it. */
export const FINAL_RECIPIENT_STATUSES = ['sent', 'delivered', 'bounced', 'failed', 'suppressed'] as const satisfies readonly RecipientStatus[];

/** Timeline entries of an email (message_events.type). */
export const EMAIL_EVENT_TYPES = [
  'queued',
  'scheduled',
  'sent',
  'delivered',
  'deferred',
  'bounced',
  'failed',
  'cancelled',
  // sent after downtime, later than scheduled
  'late',
  // the recipient asked to unsubscribe on the hosted page (or by one-click), and took it back
  'unsubscribed',
  'resubscribed',
  // engagement: the tracking pixel was fetched, a tracked link followed
  'opened',
  'clicked',
  // the recipient reported the email as spam (a feedback report)
  'complained',
  // not attempted for a recipient on the workspace's suppression list
  'suppressed',
  // the from address stopped being (or never was) one the sending key may use; see modules/domains/outgoing.ts
  'sender_unverified',
] as const;
export type EmailEventType = (typeof EMAIL_EVENT_TYPES)[number];

/**
 * What one attempt says about one recipient, in the transports' terms: the server we spoke to `accepted` it
 * (2xx), `deferred` it (4xx, or no answer) or refused it for good, which is a `bounced` recipient (5xx). The
 * delivery module turns `accepted` into `sent` or `delivered` by where the transport hands mail, and a
 * `deferred` that ran out of retries into `failed`.
 */
export const ATTEMPT_OUTCOMES = ['accepted', 'deferred', 'bounced'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * What a refused recipient's answer says about its address (RFC 3463; the README's "Bounces and the suppression
 * list" has the table): `hard` the address does not exist or takes no mail, `soft` a passing state of the mailbox
 * (full, or temporary failures that outlasted the retries), `block` the receiver refused the sender (policy,
 * reputation, authentication), `undetermined` anything else. platform/mail/bounce-class.ts picks one.
 */
export const BOUNCE_CLASSES = ['hard', 'soft', 'block', 'undetermined'] as const;
export type BounceClass = (typeof BOUNCE_CLASSES)[number];
