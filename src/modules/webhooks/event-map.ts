import type { EmailEventType } from '../../platform/lifecycle.js';
import type { ContactEventType } from '../../platform/db/schema.js';

/**
 * Which webhook events each internal event gives, declared once (the README's "Webhooks" prints this table).
 * An email recipient that its own mail server accepted (`delivered`) was also handed over, so it gives
 * `email.sent` and `email.delivered`; one a relay accepted (`sent`) gives `email.sent` only, since nobody has
 * confirmed delivery yet. `late` and `sender_unverified` are notes on the timeline, not state changes.
 */
export const EMAIL_EVENT_MAP = {
  queued: ['email.queued'],
  scheduled: ['email.scheduled'],
  cancelled: ['email.cancelled'],
  sent: ['email.sent'],
  delivered: ['email.sent', 'email.delivered'],
  deferred: ['email.deferred'],
  bounced: ['email.bounced'],
  failed: ['email.failed'],
  opened: ['email.opened'],
  clicked: ['email.clicked'],
  complained: ['email.complained'],
  suppressed: ['email.suppressed'],
  unsubscribed: ['email.unsubscribed'],
  resubscribed: ['email.resubscribed'],
  late: [],
  sender_unverified: [],
} as const satisfies Record<EmailEventType, readonly string[]>;

/** domain_events types (modules/domains) and the webhook events they give; the rest stay internal. */
export const DOMAIN_EVENT_MAP: Readonly<Record<string, readonly string[]>> = {
  'domain.verified': ['domain.verified'],
  'domain.verification_failed': ['domain.verification_failed'],
  'domain.mail_from_verified': ['domain.mail_from_verified'],
  'domain.mail_from_failed': ['domain.mail_from_failed'],
  'domain.dkim_rotated': ['domain.dkim_rotated'],
  'domain.created': ['domain.created'],
  'domain.deleted': ['domain.deleted'],
};

/** contact_events types keep their names. */
export const CONTACT_EVENT_MAP = {
  'contact.created': ['contact.created'],
  'contact.updated': ['contact.updated'],
  'contact.deleted': ['contact.deleted'],
  'contact.subscribed': ['contact.subscribed'],
  'contact.unsubscribed': ['contact.unsubscribed'],
} as const satisfies Record<ContactEventType, readonly string[]>;

/** Every webhook event an endpoint may subscribe to, in the order the reference lists them. */
export const WEBHOOK_EVENTS: readonly string[] = [
  ...new Set([...Object.values(EMAIL_EVENT_MAP).flat(), ...Object.values(DOMAIN_EVENT_MAP).flat(), ...Object.values(CONTACT_EVENT_MAP).flat()]),
];

/** The webhook events of one internal event; engagement by a scanner or an image proxy (detail.bot) gives none. */
export function webhookEventsOf(source: 'message' | 'domain' | 'contact', type: string, detail: Record<string, unknown> | null): readonly string[] {
  if (source === 'message') {
    if ((type === 'opened' || type === 'clicked') && detail?.bot === true) return [];
    return (EMAIL_EVENT_MAP as Record<string, readonly string[]>)[type] ?? [];
  }
  if (source === 'domain') return DOMAIN_EVENT_MAP[type] ?? [];
  return (CONTACT_EVENT_MAP as Record<string, readonly string[]>)[type] ?? [];
}

/** Does an endpoint subscribed to `events` want `event`? */
export const subscribes = (events: readonly string[], event: string): boolean => events.includes('*') || events.includes(event);
