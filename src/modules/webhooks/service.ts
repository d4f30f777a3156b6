import type { Config } from '../../config/config.js';
import type { Db } from '../../platform/db/database.js';
import type { WebhookEndpointRow, WebhookEndpointStatus, WebhookSignatureScheme } from '../../platform/db/schema.js';
import { ApiError, notFound, validationError } from '../../platform/http/errors.js';
import { encodeCursor, type Cursor } from '../../platform/http/cursor.js';
import type { Resolver } from '../../platform/dns/resolver.js';
import { isUuid, uuidv7 } from '../../platform/ids.js';
import { guardedPost, parseTargetUrl, resolveTarget, TargetRefused } from '../../platform/net/guarded-post.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { WEBHOOK_EVENTS } from './event-map.js';
import { samplePayload } from './payload.js';
import { generateSecret, secretHint, secretProblem, signatureHeaders } from './signing.js';
import * as store from './store.js';

/** Endpoints per workspace: each one multiplies the work of every event. */
export const MAX_ENDPOINTS_PER_WORKSPACE = 20;
/** The longest URL accepted. */
const MAX_URL_LENGTH = 2048;
/** The most of a receiver's answer kept per attempt. */
export const EXCERPT_BYTES = 1024;
/** The wake-up topic of the webhook dispatcher (the triggers of migrations/008_webhooks.sql NOTIFY it too). */
export const WEBHOOKS_TOPIC = 'webhooks';

export const sealContext = (endpointId: string) => `webhook-endpoint:${endpointId}`;

export interface EndpointView {
  id: string;
  url: string;
  events: string[];
  signature_scheme: WebhookSignatureScheme;
  status: WebhookEndpointStatus;
  failing_since: string | null;
  description: string | null;
  /** the full secret on creation only; later the hint */
  secret: string;
  created_at: string;
  updated_at: string;
}

export interface EndpointInput {
  url?: string | undefined;
  events?: string[] | undefined;
  signature_scheme?: WebhookSignatureScheme | undefined;
  secret?: string | undefined;
  description?: string | null | undefined;
  status?: 'active' | 'disabled' | undefined;
}

export interface WebhookServiceDeps {
  db: Db;
  signal: QueueSignal;
  resolver: Resolver;
  secrets: () => Promise<SecretBox>;
  settings: Config['webhooks'];
}

function view(row: WebhookEndpointRow, secret?: string): EndpointView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    signature_scheme: row.signature_scheme,
    status: row.status,
    failing_since: row.failing_since?.toISOString() ?? null,
    description: row.description,
    secret: secret ?? row.secret_hint,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Webhook endpoints of a workspace (the extension API and the CLI), and the deliveries made to them. */
export class WebhookService {
  constructor(private readonly deps: WebhookServiceDeps) {}

  private policy() {
    return { resolver: this.deps.resolver, allowPrivate: this.deps.settings.allowPrivateTargets };
  }

  /** The SSRF guard at creation and change: the form, then every address the host resolves to. */
  private async checkUrl(value: string): Promise<string> {
    if (value.length > MAX_URL_LENGTH) throw validationError(`Field 'url' must be at most ${MAX_URL_LENGTH} characters`);
    try {
      const url = parseTargetUrl(value);
      await resolveTarget(url, this.policy());
      return url.toString();
    } catch (err) {
      if (err instanceof TargetRefused) throw validationError(`Field 'url' ${err.message}`);
      throw err;
    }
  }

  private checkEvents(events: string[]): string[] {
    if (events.length === 0) throw validationError(`Field 'events' must name at least one event, or "*" for all: ${WEBHOOK_EVENTS.join(', ')}`);
    const unknown = events.filter((e) => e !== '*' && !WEBHOOK_EVENTS.includes(e));
    if (unknown.length > 0) {
      throw validationError(`Field 'events' has unknown event(s) ${unknown.slice(0, 5).map((e) => JSON.stringify(e.slice(0, 64))).join(', ')}; valid events are "*" and ${WEBHOOK_EVENTS.join(', ')}`);
    }
    return events.includes('*') ? ['*'] : [...new Set(events)];
  }

  async create(workspaceId: string, input: EndpointInput & { url: string; events: string[] }): Promise<EndpointView> {
    const events = this.checkEvents(input.events);
    if (input.secret !== undefined) {
      const problem = secretProblem(input.secret);
      if (problem) throw validationError(`Field 'secret' ${problem}`);
    }
    const url = await this.checkUrl(input.url);
    const count = await this.deps.db.selectFrom('webhook_endpoints').select((eb) => eb.fn.countAll<string>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_ENDPOINTS_PER_WORKSPACE) throw new ApiError('CONFLICT', `A workspace has at most ${MAX_ENDPOINTS_PER_WORKSPACE} webhook endpoints`);
    const box = await this.deps.secrets();
    const id = uuidv7();
    const secret = input.secret ?? generateSecret();
    const row = await this.deps.db
      .insertInto('webhook_endpoints')
      .values({
        id,
        workspace_id: workspaceId,
        url,
        events,
        signature_scheme: input.signature_scheme ?? 's1',
        secret_sealed: box.seal(secret, sealContext(id)),
        secret_hint: secretHint(secret),
        description: input.description ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return view(row, secret);
  }

  private async row(workspaceId: string, id: string): Promise<WebhookEndpointRow> {
    const row = isUuid(id) ? await this.deps.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst() : undefined;
    if (!row) throw notFound(`Webhook ${id}`);
    return row;
  }

  async list(workspaceId: string): Promise<EndpointView[]> {
    const rows = await this.deps.db.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => view(r));
  }

  async get(workspaceId: string, id: string): Promise<EndpointView> {
    return view(await this.row(workspaceId, id));
  }

  async update(workspaceId: string, id: string, input: EndpointInput): Promise<EndpointView> {
    const current = await this.row(workspaceId, id);
    const events = input.events !== undefined ? this.checkEvents(input.events) : undefined;
    const url = input.url !== undefined ? await this.checkUrl(input.url) : undefined;
    let sealed: { secret_sealed: string; secret_hint: string } | undefined;
    if (input.secret !== undefined) {
      const problem = secretProblem(input.secret);
      if (problem) throw validationError(`Field 'secret' ${problem}`);
      sealed = { secret_sealed: (await this.deps.secrets()).seal(input.secret, sealContext(id)), secret_hint: secretHint(input.secret) };
    }
    const row = await this.deps.db
      .updateTable('webhook_endpoints')
      .set({
        ...(url !== undefined ? { url } : {}),
        ...(events !== undefined ? { events } : {}),
        ...(input.signature_scheme !== undefined ? { signature_scheme: input.signature_scheme } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(sealed ?? {}),
        // enabling again (or disabling) starts with a clean record
        ...(input.status !== undefined && input.status !== current.status ? { status: input.status, failing_since: null } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notFound(`Webhook ${id}`);
    if (input.status !== undefined && input.status !== current.status) {
      // a disabled endpoint's waiting deliveries leave the due index (claims would otherwise step over them each
      // time), and come back due when it is enabled again
      const disabling = input.status === 'disabled';
      await this.deps.db
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: disabling ? null : new Date(), updated_at: new Date() })
        .where('endpoint_id', '=', id)
        .where('status', '=', 'pending')
        .where('locked_by', 'is', null)
        .where('next_attempt_at', disabling ? 'is not' : 'is', null)
        .execute();
      if (!disabling) await this.wake();
    }
    return view(row, input.secret);
  }

  /** Wakes the dispatchers of every process (NOTIFY on PostgreSQL) and of this one. */
  private async wake(): Promise<void> {
    await this.deps.signal.notifyInTransaction(this.deps.db, WEBHOOKS_TOPIC);
    this.deps.signal.wakeLocal(WEBHOOKS_TOPIC);
  }

  async delete(workspaceId: string, id: string): Promise<void> {
    if (!isUuid(id)) throw notFound(`Webhook ${id}`);
    const res = await this.deps.db.deleteFrom('webhook_endpoints').where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound(`Webhook ${id}`);
  }

  /** Sends a sample `email.delivered` event now, signed like any other, and answers what the receiver said. */
  async test(workspaceId: string, id: string): Promise<{ delivery_id: string; event: string; success: boolean; status_code: number | null; latency_ms: number; body_excerpt: string | null; error: string | null }> {
    const row = await this.row(workspaceId, id);
    const secret = (await this.deps.secrets()).open(row.secret_sealed, sealContext(row.id));
    const deliveryId = uuidv7();
    const body = JSON.stringify(samplePayload(deliveryId, workspaceId, new Date()));
    const headers = signatureHeaders({ secret, scheme: row.signature_scheme, deliveryId, event: 'email.delivered', body, timestamp: Math.floor(Date.now() / 1000) });
    const r = await guardedPost(row.url, body, headers, { ...this.policy(), timeoutMs: this.deps.settings.timeoutMs, excerptBytes: EXCERPT_BYTES });
    const success = r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;
    return { delivery_id: deliveryId, event: 'email.delivered', success, status_code: r.statusCode, latency_ms: r.latencyMs, body_excerpt: r.bodyExcerpt, error: r.error ?? (success ? null : `answered ${r.statusCode}`) };
  }

  async deliveries(workspaceId: string, id: string, opts: { limit: number; cursor?: Cursor | undefined }) {
    const row = await this.row(workspaceId, id);
    if (opts.cursor && !isUuid(opts.cursor.id)) throw validationError("Query parameter 'cursor' is not a cursor this API returned");
    const rows = await store.listDeliveries(this.deps.db, row.id, { limit: opts.limit + 1, ...(opts.cursor ? { before: opts.cursor } : {}) });
    const page = rows.slice(0, opts.limit);
    const last = page.at(-1);
    const hasMore = rows.length > opts.limit;
    return {
      deliveries: page.map((d) => ({
        id: d.id,
        event: d.event,
        status: d.status,
        attempts: d.attempts,
        next_retry_at: d.status === 'pending' ? (d.next_attempt_at?.toISOString() ?? null) : null,
        last_status_code: d.last_status_code,
        last_latency_ms: d.last_latency_ms,
        last_error: d.last_error,
        created_at: d.created_at.toISOString(),
        attempt_log: (d.attempt_log ?? []).map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
      })),
      next_cursor: hasMore && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
      has_more: hasMore,
    };
  }

  async replay(workspaceId: string, id: string, deliveryId: string): Promise<{ id: string; status: 'pending' }> {
    const row = await this.row(workspaceId, id);
    if (!isUuid(deliveryId) || !(await store.replayDelivery(this.deps.db, workspaceId, row.id, deliveryId))) throw notFound(`Delivery ${deliveryId}`);
    await this.wake();
    return { id: deliveryId, status: 'pending' };
  }
}
