import { sql } from 'kysely';
import type { Db, Tx } from '../../platform/db/database.js';
import type { WebhookDeliveryStatus, WebhookSignatureScheme } from '../../platform/db/schema.js';

// --- fan-out: outbox rows into deliveries -------------------------------------------------------------------

export interface OutboxRow {
  id: string;
  source: 'message' | 'domain' | 'contact';
  /** the events one statement wrote for one workspace, in order; at most 500 (migration 014) */
  event_ids: string[];
  workspace_id: string;
}

/** The oldest outbox rows nobody else is fanning out; locked until the transaction ends. */
export async function lockOutbox(trx: Tx, limit: number): Promise<OutboxRow[]> {
  const res = await sql<OutboxRow>`
    SELECT id, source, event_ids::text[] AS event_ids, workspace_id FROM webhook_outbox
     ORDER BY id LIMIT ${limit}
       FOR UPDATE SKIP LOCKED`.execute(trx);
  return res.rows;
}

export async function deleteOutbox(trx: Tx, ids: string[]): Promise<void> {
  if (ids.length > 0) await sql`DELETE FROM webhook_outbox WHERE id = ANY(${ids}::bigint[])`.execute(trx);
}

export const outboxIsEmpty = async (db: Db): Promise<boolean> => (await sql`SELECT 1 FROM webhook_outbox LIMIT 1`.execute(db)).rows.length === 0;

export interface SubscribedEndpoint {
  id: string;
  workspace_id: string;
  events: string[];
}

export async function endpointsOf(trx: Tx, workspaceIds: string[]): Promise<SubscribedEndpoint[]> {
  if (workspaceIds.length === 0) return [];
  const res = await sql<SubscribedEndpoint>`
    SELECT id, workspace_id, events FROM webhook_endpoints
     WHERE workspace_id = ANY(${workspaceIds}::uuid[]) AND status <> 'disabled'`.execute(trx);
  return res.rows;
}

export interface EmailEventFacts {
  id: string;
  message_id: string;
  type: string;
  recipient: string | null;
  smtp_code: number | null;
  smtp_response: string | null;
  detail: Record<string, unknown> | null;
  created_at: Date;
  workspace_id: string;
  subject: string;
  status: string;
  metadata: Record<string, unknown>;
  to: string[] | null;
}

/** The email events and what a payload says of their emails, one round trip for the batch. */
export async function emailEvents(trx: Tx, ids: string[]): Promise<EmailEventFacts[]> {
  if (ids.length === 0) return [];
  const res = await sql<EmailEventFacts>`
    SELECT e.id, e.message_id, e.type, e.recipient, e.smtp_code, e.smtp_response, e.detail, e.created_at,
           m.workspace_id, m.subject, m.status, m.metadata,
           (SELECT array_agg(r.email ORDER BY r.position) FROM message_recipients r
             WHERE r.message_id = m.id AND r.kind = 'to') AS "to"
      FROM message_events e JOIN messages m ON m.id = e.message_id
     WHERE e.id = ANY(${ids}::bigint[])`.execute(trx);
  return res.rows;
}

export interface DomainEventFacts {
  id: string;
  domain_id: string;
  type: string;
  detail: Record<string, unknown>;
  created_at: Date;
  workspace_id: string;
  name: string;
}

export async function domainEvents(trx: Tx, ids: string[]): Promise<DomainEventFacts[]> {
  if (ids.length === 0) return [];
  const res = await sql<DomainEventFacts>`
    SELECT e.id, e.domain_id, e.type, e.detail, e.created_at, d.workspace_id, d.name
      FROM domain_events e JOIN domains d ON d.id = e.domain_id
     WHERE e.id = ANY(${ids}::bigint[])`.execute(trx);
  return res.rows;
}

export interface ContactEventFacts {
  id: string;
  workspace_id: string;
  contact_id: string;
  audience_id: string | null;
  type: string;
  data: Record<string, unknown>;
  created_at: Date;
  /** null once the contact is deleted */
  email: string | null;
}

export async function contactEvents(trx: Tx, ids: string[]): Promise<ContactEventFacts[]> {
  if (ids.length === 0) return [];
  const res = await sql<ContactEventFacts>`
    SELECT e.id, e.workspace_id, e.contact_id, e.audience_id, e.type, e.data, e.created_at, c.email
      FROM contact_events e LEFT JOIN contacts c ON c.id = e.contact_id
     WHERE e.id = ANY(${ids}::bigint[])`.execute(trx);
  return res.rows;
}

export interface NewDelivery {
  id: string;
  endpointId: string;
  workspaceId: string;
  event: string;
  payload: string;
}

/** Inserts the batch's deliveries in one statement (arrays, so the parameter count does not grow with the batch). */
export async function insertDeliveries(trx: Tx, rows: NewDelivery[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO webhook_deliveries (id, endpoint_id, workspace_id, event, payload, next_attempt_at)
    SELECT d.id, d.endpoint_id, d.workspace_id, d.event, d.payload, now()
      FROM unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.endpointId)}::uuid[], ${rows.map((r) => r.workspaceId)}::uuid[],
                  ${rows.map((r) => r.event)}::text[], ${rows.map((r) => r.payload)}::text[]) AS d(id, endpoint_id, workspace_id, event, payload)`.execute(trx);
}

// --- delivery -----------------------------------------------------------------------------------------------

export interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  event: string;
  payload: string;
  attempts: number;
  url: string;
  signature_scheme: WebhookSignatureScheme;
  secret_sealed: string;
}

/**
 * Claims due deliveries, at most `perEndpoint` per endpoint counting those this worker already has in flight
 * (`busy`), and none of an endpoint that is full: so a slow endpoint holds its own slots and no others. The
 * claim pushes next_attempt_at forward by the lease, so a crashed worker's delivery comes back by itself.
 */
export async function claimDeliveries(
  db: Db,
  opts: { workerId: string; limit: number; perEndpoint: number; busy: Map<string, number>; leaseMs: number },
): Promise<ClaimedDelivery[]> {
  const full = [...opts.busy].filter(([, n]) => n >= opts.perEndpoint).map(([id]) => id);
  const res = await sql<ClaimedDelivery>`
    WITH candidates AS (
      SELECT d.id, d.endpoint_id, d.next_attempt_at
        FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status <> 'disabled'
       WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND NOT (d.endpoint_id = ANY(${full}::uuid[]))
       ORDER BY d.next_attempt_at
       LIMIT ${opts.limit * 4}
         FOR UPDATE OF d SKIP LOCKED
    ), ranked AS (
      SELECT c.id, row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_at, c.id) + coalesce(b.n, 0) AS rank
        FROM candidates c
        LEFT JOIN unnest(${[...opts.busy.keys()]}::uuid[], ${[...opts.busy.values()]}::int[]) AS b(endpoint_id, n) ON b.endpoint_id = c.endpoint_id
    ), picked AS (
      SELECT id FROM ranked WHERE rank <= ${opts.perEndpoint} LIMIT ${opts.limit}
    )
    UPDATE webhook_deliveries d
       SET attempts = d.attempts + 1, locked_by = ${opts.workerId},
           next_attempt_at = now() + make_interval(secs => ${opts.leaseMs / 1000}), updated_at = now()
      FROM picked, webhook_endpoints e
     WHERE d.id = picked.id AND e.id = d.endpoint_id
 RETURNING d.id, d.endpoint_id, d.event, d.payload, d.attempts, e.url, e.signature_scheme, e.secret_sealed`.execute(db);
  return res.rows;
}

export interface AttemptRecord {
  delivery: { id: string; endpointId: string; attempts: number };
  workerId: string;
  statusCode: number | null;
  latencyMs: number;
  bodyExcerpt: string | null;
  error: string | null;
  /** where the delivery goes: delivered, failed for good, or pending with the next attempt's time */
  status: WebhookDeliveryStatus;
  nextAttemptAt: Date | null;
}

/** Most attempts recorded per statement (each takes 8 array elements, not parameters). */
export const MAX_ATTEMPTS_PER_STATEMENT = 500;

/**
 * Records a batch of attempts in one statement: the attempt rows, each delivery's new state (fenced by worker
 * and attempt, so a delivery that was replayed or lost to another worker meanwhile keeps its new state) and
 * the endpoints' health: a success clears an endpoint's run of failures (and a `failing` mark); a failure
 * starts one, or ends it in `failing` once it began more than `failingAfterMs` ago. An endpoint with both in
 * the batch counts as healthy. Returns the endpoints that became `failing`.
 */
export async function recordAttempts(db: Db, items: AttemptRecord[], failingAfterMs: number): Promise<string[]> {
  if (items.length === 0) return [];
  const healthy = [...new Set(items.filter((a) => a.status === 'delivered').map((a) => a.delivery.endpointId))];
  const sick = [...new Set(items.filter((a) => a.status !== 'delivered').map((a) => a.delivery.endpointId))].filter((id) => !healthy.includes(id));
  const res = await sql<{ id: string }>`
    WITH a AS (
      SELECT * FROM unnest(${items.map((a) => a.delivery.id)}::uuid[], ${items.map((a) => a.delivery.attempts)}::int[], ${items.map((a) => a.workerId)}::text[],
                           ${items.map((a) => a.status)}::text[], ${items.map((a) => a.nextAttemptAt?.toISOString() ?? null)}::timestamptz[],
                           ${items.map((a) => a.statusCode)}::int[], ${items.map((a) => a.latencyMs)}::int[], ${items.map((a) => a.bodyExcerpt)}::text[],
                           ${items.map((a) => a.error)}::text[])
             AS t(delivery_id, attempts, worker_id, status, next_attempt_at, status_code, latency_ms, body_excerpt, error)
    ), attempt AS (
      INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms, body_excerpt, error)
      SELECT delivery_id, status_code, latency_ms, body_excerpt, error FROM a
    ), delivery AS (
      UPDATE webhook_deliveries d
         SET status = a.status, next_attempt_at = a.next_attempt_at, locked_by = NULL, last_status_code = a.status_code,
             last_latency_ms = a.latency_ms, last_error = a.error, updated_at = now()
        FROM a
       WHERE d.id = a.delivery_id AND d.locked_by = a.worker_id AND d.attempts = a.attempts
    ), healthy AS (
      UPDATE webhook_endpoints SET failing_since = NULL, status = CASE WHEN status = 'failing' THEN 'active' ELSE status END, updated_at = now()
       WHERE id = ANY(${healthy}::uuid[]) AND (failing_since IS NOT NULL OR status = 'failing')
    ), sick AS (
      UPDATE webhook_endpoints e
         SET failing_since = coalesce(old.failing_since, now()),
             status = CASE WHEN old.status = 'active' AND old.failing_since < now() - make_interval(secs => ${failingAfterMs / 1000}) THEN 'failing' ELSE old.status END
        FROM webhook_endpoints old
       WHERE e.id = ANY(${sick}::uuid[]) AND old.id = e.id
   RETURNING e.id, e.status <> old.status AS became_failing
    )
    SELECT id FROM sick WHERE became_failing`.execute(db);
  return res.rows.map((r) => r.id);
}

/** Puts a delivery back at the start of its retry schedule, due now; same id, so receivers see the same webhook-id. */
export async function replayDelivery(db: Db, workspaceId: string, endpointId: string, deliveryId: string): Promise<boolean> {
  const res = await sql`
    UPDATE webhook_deliveries
       SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_by = NULL, updated_at = now()
     WHERE id = ${deliveryId}::uuid AND endpoint_id = ${endpointId}::uuid AND workspace_id = ${workspaceId}::uuid`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}

export interface DeliveryListRow {
  id: string;
  event: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_latency_ms: number | null;
  last_error: string | null;
  created_at: Date;
  attempt_log: { at: string; status_code: number | null; latency_ms: number; body_excerpt: string | null; error: string | null }[] | null;
}

/** Most attempts shown per delivery in a list (the newest). */
export const ATTEMPTS_SHOWN = 20;

/** A page of an endpoint's deliveries, newest first, each with its latest attempts. */
export async function listDeliveries(db: Db, endpointId: string, opts: { limit: number; before?: { createdAt: Date; id: string } }): Promise<DeliveryListRow[]> {
  const res = await sql<DeliveryListRow>`
    SELECT d.id, d.event, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_latency_ms, d.last_error, d.created_at,
           (SELECT json_agg(json_build_object('at', a.created_at, 'status_code', a.status_code, 'latency_ms', a.latency_ms,
                                              'body_excerpt', a.body_excerpt, 'error', a.error) ORDER BY a.id)
              FROM (SELECT * FROM webhook_attempts WHERE delivery_id = d.id ORDER BY id DESC LIMIT ${ATTEMPTS_SHOWN}) a) AS attempt_log
      FROM webhook_deliveries d
     WHERE d.endpoint_id = ${endpointId}::uuid
       ${opts.before ? sql`AND (d.created_at, d.id) < (${opts.before.createdAt}, ${opts.before.id}::uuid)` : sql``}
     ORDER BY d.created_at DESC, d.id DESC
     LIMIT ${opts.limit}`.execute(db);
  return res.rows;
}
