import { sql } from 'kysely';
import type { Tx } from '../../../platform/db/database.js';
import { spanMs, type ConditionTest } from '../graph.js';
import { fieldValue } from '../contact-context.js';
import type { EngineContact } from '../engine-store.js';

/**
 * Evaluates a condition step for one enrollment in the engine's transaction. email_opened / email_clicked look at
 * the email the named send_email step accepted for this enrollment (its latest run): the first open or click by a
 * person (bots are counted apart, migration 009), optionally within `within` of the email's acceptance. No email
 * (the step did not run, or its address was suppressed) is false.
 */
export async function evaluateCondition(trx: Tx, o: { enrollmentId: string; contact: EngineContact; test: ConditionTest }): Promise<boolean> {
  const t = o.test;
  if (t.kind === 'tag') return o.contact.tags.includes(t.tag) === (t.op === 'has');
  if (t.kind === 'field') return fieldTest(fieldValue(o.contact, t.field), t.op, t.value);
  const res = await sql<{ created_at: Date; at: Date | null }>`
    SELECT m.created_at, ${t.kind === 'email_opened' ? sql`m.opened_at` : sql`m.clicked_at`} AS at
      FROM automation_step_runs r JOIN messages m ON m.id = r.message_id
     WHERE r.enrollment_id = ${o.enrollmentId} AND r.step_id = ${t.step} AND r.message_id IS NOT NULL
     ORDER BY r.seq DESC LIMIT 1`.execute(trx);
  const row = res.rows[0];
  if (!row?.at) return false;
  if (!t.within) return true;
  return new Date(row.at).getTime() - new Date(row.created_at).getTime() <= spanMs(t.within);
}

/** A field compares as text (a custom field may hold a number or a boolean); `contains` ignores case. Empty is absent. */
function fieldTest(value: unknown, op: 'equals' | 'not_equals' | 'contains' | 'exists' | 'not_exists', expected: string | number | boolean | undefined): boolean {
  const present = value !== undefined && value !== null && value !== '';
  const text = present ? (typeof value === 'object' ? JSON.stringify(value) : String(value)) : '';
  const want = expected === undefined ? '' : String(expected);
  switch (op) {
    case 'exists':
      return present;
    case 'not_exists':
      return !present;
    case 'equals':
      return present && text === want;
    case 'not_equals':
      return !present || text !== want;
    case 'contains':
      return present && text.toLowerCase().includes(want.toLowerCase());
  }
}
