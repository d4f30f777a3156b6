import { sql } from 'kysely';
import { inTransaction, type Db, type Tx } from '../../platform/db/database.js';
import { JOBS_TOPIC } from '../../platform/queue/jobs-store.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import { enrollContacts } from './enrollments.js';

/**
 * contact_added_to_audience (README, "Automation triggers"). Migration 013 writes one job on this queue per
 * statement that records `contact.subscribed` events for an audience an active automation starts from, in the
 * transaction of the membership change. Why a job from a database trigger rather than a call to enrollContacts where
 * memberships change: the event is the one signal every path already writes (the API, imports, the subscribe form
 * and its confirmation, automation actions), so no path can be forgotten, and the contacts module stays unaware of
 * automations. A pending (double opt-in) membership writes no event until it is confirmed, so it enrolls nobody.
 */
export const AUDIENCE_TRIGGER_QUEUE = 'automation.audience-trigger';

/** Events read and enrolled per transaction. */
const BATCH = 1000;
/** One statement's events: an import batch is 2,000 rows; anything past this bound is not read. */
const MAX_EVENTS = 100_000;

/** The event ids a job names, bounded; anything that is not a positive integer is dropped. */
export function eventIdsOf(payload: Record<string, unknown>): number[] {
  const raw = Array.isArray(payload.eventIds) ? (payload.eventIds as unknown[]).slice(0, MAX_EVENTS) : [];
  return raw.filter((v): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0);
}

interface Match {
  event_id: string;
  workspace_id: string;
  contact_id: string;
  audience_id: string;
  automation_id: string;
}

/**
 * Enrolls the contacts of a batch of events in one transaction. Each enrollment also writes an occurrence row
 * (`subscribed:<event id>`), so a job that runs again after a crash between its commit and being marked done
 * enrolls nobody twice, even when the first enrollment has completed meanwhile. A contact that left the audience
 * (or was deleted) before the job ran is not enrolled.
 */
async function enrollBatch(trx: Tx, signal: QueueSignal, eventIds: number[]): Promise<number> {
  const matches = await sql<Match>`
    SELECT e.id::text AS event_id, e.workspace_id, e.contact_id, e.audience_id, a.id AS automation_id
      FROM contact_events e
      JOIN automations a ON a.workspace_id = e.workspace_id AND a.status = 'active' AND a.trigger_type = 'contact_added_to_audience'
                        AND lower(a.trigger_config ->> 'audience_id') = e.audience_id::text
      JOIN audience_members m ON m.audience_id = e.audience_id AND m.contact_id = e.contact_id AND m.status = 'subscribed'
     WHERE e.id = ANY(${eventIds}::bigint[]) AND e.type = 'contact.subscribed'
     ORDER BY e.id`.execute(trx);
  const byAutomation = new Map<string, Match[]>();
  for (const m of matches.rows) {
    const list = byAutomation.get(m.automation_id);
    if (list) list.push(m);
    else byAutomation.set(m.automation_id, [m]);
  }
  let enrolled = 0;
  for (const [automationId, rows] of byAutomation) {
    const fresh = await sql<{ contact_id: string }>`
      INSERT INTO automation_occurrences (automation_id, contact_id, occurrence)
      SELECT ${automationId}, o.contact_id, 'subscribed:' || o.event_id
        FROM unnest(${rows.map((r) => r.contact_id)}::uuid[], ${rows.map((r) => r.event_id)}::text[]) AS o(contact_id, event_id)
      ON CONFLICT DO NOTHING
      RETURNING contact_id`.execute(trx);
    if (fresh.rows.length === 0) continue;
    const first = rows[0]!;
    const ids = await enrollContacts(trx, signal, {
      workspaceId: first.workspace_id,
      automationId,
      contactIds: fresh.rows.map((r) => r.contact_id),
      triggerData: { audience_id: first.audience_id },
    });
    enrolled += ids.length;
  }
  return enrolled;
}

/** The job: enrolls the events' contacts BATCH events per transaction; a retry goes on where the occurrences say. */
export async function runAudienceTrigger(db: Db, signal: QueueSignal, payload: Record<string, unknown>): Promise<number> {
  const ids = eventIdsOf(payload);
  let enrolled = 0;
  for (let i = 0; i < ids.length; i += BATCH) {
    const n = await inTransaction(db, (trx) => enrollBatch(trx, signal, ids.slice(i, i + BATCH)));
    if (n > 0) signal.wakeLocal(JOBS_TOPIC);
    enrolled += n;
  }
  return enrolled;
}
