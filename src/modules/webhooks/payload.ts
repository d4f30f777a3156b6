import type { ContactEventFacts, DomainEventFacts, EmailEventFacts } from './store.js';

/**
 * The superset payload of spec §9: the flat fields (P1, P5), `id` and `type` (P2), and `data` repeating the
 * email's fields (P2, P3, P4), so receivers written for any of the documented shapes find what they read.
 * Fields that do not apply are null; domain and contact events carry their own facts in `data`.
 */
export interface WebhookPayload {
  id: string;
  event: string;
  type: string;
  timestamp: string;
  workspace_id: string;
  email_id: string | null;
  job_id: string | null;
  to: string[] | null;
  recipient: string | null;
  subject: string | null;
  status: string | null;
  reason: string | null;
  bounce_reason: string | null;
  /** extension: the bounce class (README, "Bounces and the suppression list"): hard, soft, block or undetermined */
  bounce_type: string | null;
  url: string | null;
  error: string | null;
  metadata: Record<string, unknown>;
  data: Record<string, unknown>;
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** What the email event says went wrong or why, for `reason` / `bounce_reason` / `error`. */
function emailReason(e: EmailEventFacts): string | null {
  const d = e.detail ?? {};
  return e.smtp_response ?? text(d.reason) ?? text(d.error) ?? null;
}

export function emailPayload(id: string, event: string, e: EmailEventFacts): WebhookPayload {
  const reason = emailReason(e);
  const d = e.detail ?? {};
  const fields = {
    email_id: e.message_id,
    job_id: e.message_id,
    to: e.to ?? [],
    recipient: e.recipient,
    subject: e.subject,
    status: e.status,
    reason,
    bounce_reason: event === 'email.bounced' ? reason : null,
    bounce_type: event === 'email.bounced' || event === 'email.failed' ? text(d.bounce_type) : null,
    url: text(d.url),
    error: event === 'email.failed' || event === 'email.bounced' || event === 'email.deferred' ? reason : null,
    metadata: e.metadata ?? {},
  };
  return {
    id,
    event,
    type: event,
    timestamp: new Date(e.created_at).toISOString(),
    workspace_id: e.workspace_id,
    ...fields,
    data: { ...fields, smtp_code: e.smtp_code, detail: d },
  };
}

const empty = { email_id: null, job_id: null, to: null, recipient: null, subject: null, status: null, bounce_reason: null, bounce_type: null, url: null, error: null, metadata: {} };

export function domainPayload(id: string, event: string, e: DomainEventFacts): WebhookPayload {
  return {
    id,
    event,
    type: event,
    timestamp: new Date(e.created_at).toISOString(),
    workspace_id: e.workspace_id,
    ...empty,
    reason: text(e.detail.reason),
    data: { domain_id: e.domain_id, domain: e.name, ...e.detail },
  };
}

export function contactPayload(id: string, event: string, e: ContactEventFacts): WebhookPayload {
  const email = e.email ?? text(e.data.email);
  return {
    id,
    event,
    type: event,
    timestamp: new Date(e.created_at).toISOString(),
    workspace_id: e.workspace_id,
    ...empty,
    recipient: email,
    reason: text(e.data.reason),
    data: { contact_id: e.contact_id, audience_id: e.audience_id, email, ...e.data },
  };
}

/** The sample `POST /api/v1/webhooks/{id}/test` sends. */
export function samplePayload(id: string, workspaceId: string, now: Date): WebhookPayload {
  const fields = {
    email_id: 'msg_1700000000000_test',
    job_id: 'msg_1700000000000_test',
    to: ['ada@example.org'],
    recipient: 'ada@example.org',
    subject: 'A test event from keplars-server',
    status: 'delivered',
    reason: null,
    bounce_reason: null,
    bounce_type: null,
    url: null,
    error: null,
    metadata: { test: true },
  };
  return { id, event: 'email.delivered', type: 'email.delivered', timestamp: now.toISOString(), workspace_id: workspaceId, ...fields, data: { ...fields, test: true } };
}
