import { sql, type RawBuilder } from 'kysely';
import { inTransaction, type Db, type Tx } from '../../platform/db/database.js';
import type { AutomationRow } from '../../platform/db/schema.js';
import { isUuid } from '../../platform/ids.js';
import { insertJob, JOBS_TOPIC } from '../../platform/queue/jobs-store.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import { enrollContacts } from './enrollments.js';
import { PROFILE_FIELDS, trigger } from './graph.js';
import { addDays, anniversaryIn, fieldDateIn, formatDate, localDate, parseFieldDate, zoneOrFallback, zonedTimeToUtc, type CivilDate } from './time-zones.js';

/**
 * date_time triggers (README, "Automation triggers"; the trigger schema's comment in graph.ts).
 *
 * THE CONTRACT FOR THE API: call `scheduleDateTrigger(trx, signal, automation)` in the transaction of every change
 * to an automation's status or trigger (create, update, activate, pause, archive; a delete needs nothing: the jobs
 * find the automation gone), with the row as saved, and `signal.wakeLocal(JOBS_TOPIC)` after commit. It is
 * idempotent and does nothing for other triggers. For an active date_time automation it makes sure its one job
 * exists: for a fixed `at`, job `automation:<id>:at` due at `at` (now if `at` has passed); for a `date_field`, the
 * recurring scan `automation:<id>:date-scan`, whose first window starts now. For any other state it removes the
 * waiting jobs, so pausing stops them and activating again starts afresh (a date_field contact whose time came
 * during the pause is not enrolled late; a fixed `at` that passed during the pause runs on activation).
 *
 * Each contact fires at most once per automation and occurrence (automation_occurrences: `at:<instant>` for a fixed
 * time, the local fire date `YYYY-MM-DD` for a date field), so a job that runs again after a crash, a re-scan of
 * the same window and a re-activation enroll nobody twice.
 */
export const DATE_AT_QUEUE = 'automation.date-at';
export const DATE_SCAN_QUEUE = 'automation.date-scan';
/** How often a date_field automation looks for contacts whose time came. */
export const DATE_SCAN_EVERY_MS = 15 * 60_000;
/** A scan after a long outage looks back this far at most; older times are not enrolled late. */
const MAX_CATCH_UP_MS = 7 * 86_400_000;
/** Contacts read and enrolled per transaction. */
const PAGE = 1000;
/** Pages per run of a job: a workspace of a million contacts is worked through in several runs, not one. */
const PAGES_PER_RUN = 50;
const FIRST_ID = '00000000-0000-0000-0000-000000000000';

export const atDedupeKey = (automationId: string): string => `automation:${automationId}:at`;
export const scanDedupeKey = (automationId: string): string => `automation:${automationId}:date-scan`;

export type DateTriggerConfig =
  | { kind: 'at'; at: Date; audienceId: string | undefined }
  | { kind: 'field'; field: string; time: string; offsetDays: number; annual: boolean; audienceId: string | undefined };

type AutomationTrigger = Pick<AutomationRow, 'trigger_type' | 'trigger_config'>;

/** A date_time automation's trigger as the schema reads it, or null for any other (or a stored config that no longer parses). */
export function dateTriggerOf(a: AutomationTrigger): DateTriggerConfig | null {
  if (a.trigger_type !== 'date_time') return null;
  const parsed = trigger.safeParse({ type: a.trigger_type, config: a.trigger_config });
  if (!parsed.success || parsed.data.type !== 'date_time') return null;
  const c = parsed.data.config;
  if ('at' in c) return { kind: 'at', at: new Date(c.at), audienceId: c.audience_id };
  return { kind: 'field', field: c.date_field, time: c.time, offsetDays: c.offset_days, annual: c.annual, audienceId: c.audience_id };
}

/** See the contract at the top of this file. */
export async function scheduleDateTrigger(
  trx: Tx,
  signal: QueueSignal,
  automation: Pick<AutomationRow, 'id' | 'status'> & AutomationTrigger,
  now: Date = new Date(),
): Promise<void> {
  const config = automation.status === 'active' ? dateTriggerOf(automation) : null;
  const keep = config?.kind === 'at' ? atDedupeKey(automation.id) : config?.kind === 'field' ? scanDedupeKey(automation.id) : null;
  const stale = [atDedupeKey(automation.id), scanDedupeKey(automation.id)].filter((k) => k !== keep);
  await trx.deleteFrom('jobs').where('dedupe_key', 'in', stale).where('status', '=', 'pending').execute();
  if (!config) return;
  if (config.kind === 'at') {
    const runAt = config.at > now ? config.at : now;
    const id = await insertJob(trx, { queue: DATE_AT_QUEUE, dedupeKey: atDedupeKey(automation.id), payload: { automationId: automation.id }, runAt, maxAttempts: 10 });
    // a waiting job follows a changed `at`; the job itself reads the time again when it runs
    if (!id) await trx.updateTable('jobs').set({ next_attempt_at: runAt, updated_at: now }).where('dedupe_key', '=', atDedupeKey(automation.id)).where('status', '=', 'pending').execute();
  } else {
    // an existing scan keeps its window: a change of the field or time applies from its next run
    await insertJob(trx, { queue: DATE_SCAN_QUEUE, dedupeKey: scanDedupeKey(automation.id), payload: { automationId: automation.id, scannedUntil: now.toISOString() }, runAt: now, maxAttempts: 10 });
  }
  await signal.notifyInTransaction(trx, JOBS_TOPIC);
}

interface Target {
  id: string;
  workspace_id: string;
  status: AutomationRow['status'];
  trigger_type: AutomationRow['trigger_type'];
  trigger_config: AutomationRow['trigger_config'];
  timezone: string;
}

function loadAutomation(db: Db, automationId: unknown): Promise<Target | undefined> {
  if (typeof automationId !== 'string' || !isUuid(automationId)) return Promise.resolve(undefined);
  return db
    .selectFrom('automations as a')
    .innerJoin('workspaces as w', 'w.id', 'a.workspace_id')
    .select(['a.id', 'a.workspace_id', 'a.status', 'a.trigger_type', 'a.trigger_config', 'w.timezone'])
    .where('a.id', '=', automationId)
    .executeTakeFirst();
}

/** Writes the occurrences not yet there and enrolls their contacts, in the caller's transaction. */
async function enrollOnce(trx: Tx, signal: QueueSignal, a: Target, due: { contactId: string; occurrence: string }[]): Promise<number> {
  if (due.length === 0) return 0;
  const fresh = await sql<{ contact_id: string }>`
    INSERT INTO automation_occurrences (automation_id, contact_id, occurrence)
    SELECT ${a.id}, o.contact_id, o.occurrence FROM unnest(${due.map((d) => d.contactId)}::uuid[], ${due.map((d) => d.occurrence)}::text[]) AS o(contact_id, occurrence)
    ON CONFLICT DO NOTHING
    RETURNING contact_id`.execute(trx);
  if (fresh.rows.length === 0) return 0;
  return (await enrollContacts(trx, signal, { workspaceId: a.workspace_id, automationId: a.id, contactIds: fresh.rows.map((r) => r.contact_id) })).length;
}

/** The audience filter of a trigger: none, or subscribed members of the audience (an id that is no uuid matches nobody). */
function audienceJoin(audienceId: string | undefined): RawBuilder<unknown> {
  if (audienceId === undefined) return sql``;
  if (!isUuid(audienceId)) return sql`JOIN audience_members m ON false`;
  return sql`JOIN audience_members m ON m.contact_id = c.id AND m.audience_id = ${audienceId}::uuid AND m.status = 'subscribed'`;
}

export type RunOutcome = { enrolled: number; retryAt?: Date };

/**
 * The fixed-`at` job: every subscribed contact of the audience (or the workspace) is enrolled once, a page per
 * transaction; after PAGES_PER_RUN pages the job comes back at once and goes on past the contacts already done.
 */
export async function runFixedAt(db: Db, signal: QueueSignal, payload: Record<string, unknown>, now: Date = new Date()): Promise<RunOutcome> {
  const a = await loadAutomation(db, payload.automationId);
  const config = a?.status === 'active' ? dateTriggerOf(a) : null;
  if (!a || config?.kind !== 'at') return { enrolled: 0 };
  if (config.at > now) return { enrolled: 0, retryAt: config.at };
  const occurrence = `at:${config.at.toISOString()}`;
  let after = FIRST_ID;
  let enrolled = 0;
  for (let page = 0; page < PAGES_PER_RUN; page++) {
    const n = await inTransaction(db, async (trx) => {
      const rows = await sql<{ id: string }>`
        SELECT c.id FROM contacts c ${audienceJoin(config.audienceId)}
         WHERE c.workspace_id = ${a.workspace_id} AND c.status = 'subscribed' AND c.id > ${after}::uuid
           AND NOT EXISTS (SELECT 1 FROM automation_occurrences o WHERE o.automation_id = ${a.id} AND o.contact_id = c.id AND o.occurrence = ${occurrence})
         ORDER BY c.id LIMIT ${PAGE}`.execute(trx);
      if (rows.rows.length === 0) return null;
      after = rows.rows[rows.rows.length - 1]!.id;
      return enrollOnce(trx, signal, a, rows.rows.map((r) => ({ contactId: r.id, occurrence })));
    });
    if (n === null) return { enrolled, ...(await movedAt(db, a.id, config.at, now)) };
    if (n > 0) signal.wakeLocal(JOBS_TOPIC);
    enrolled += n;
  }
  return { enrolled, retryAt: now };
}

/** An `at` changed while the job ran (saving could not schedule a second job then): the job comes back for it. */
async function movedAt(db: Db, automationId: string, done: Date, now: Date): Promise<{ retryAt?: Date }> {
  const a = await loadAutomation(db, automationId);
  const config = a?.status === 'active' ? dateTriggerOf(a) : null;
  if (config?.kind !== 'at' || config.at.getTime() === done.getTime()) return {};
  return { retryAt: config.at > now ? config.at : now };
}

const DAY_MS = 86_400_000;
const utcDate = (ms: number): CivilDate => localDate(ms, 'UTC');

/** Every date from `from` to `to`, both included. */
function datesBetween(from: CivilDate, to: CivilDate): CivilDate[] {
  const out: CivilDate[] = [];
  for (let d = from; formatDate(d) <= formatDate(to); d = addDays(d, 1)) out.push(d);
  return out;
}

/**
 * The SQL that narrows a page to contacts whose field could fire in the window, so a scan reads the few rows
 * whose date is near, not every contact: a fire date is within a day of the window's UTC dates in any zone, and a
 * field holding an instant may fall a day either side in the contact's zone, hence the two days of margin.
 */
function prefilter(config: Extract<DateTriggerConfig, { kind: 'field' }>, window: { from: Date; to: Date }): RawBuilder<unknown> {
  const first = addDays(utcDate(window.from.getTime()), -2 - config.offsetDays);
  const last = addDays(utcDate(window.to.getTime()), 2 - config.offsetDays);
  const dates = datesBetween(first, last);
  const monthDays = [...new Set(dates.map((d) => formatDate(d).slice(5)))];
  // 29 February's anniversary is 28 February in other years
  if (monthDays.includes('02-28')) monthDays.push('02-29');
  if (config.field === 'created_at') {
    if (config.annual) return sql`to_char(c.created_at AT TIME ZONE 'UTC', 'MM-DD') = ANY(${monthDays}::text[])`;
    return sql`c.created_at >= ${new Date(Date.UTC(first.y, first.m - 1, first.d))} AND c.created_at < ${new Date(Date.UTC(last.y, last.m - 1, last.d) + DAY_MS)}`;
  }
  const value = fieldValue(config.field);
  if (config.annual) return sql`substr(${value}, 6, 5) = ANY(${monthDays}::text[])`;
  return sql`left(${value}, 10) = ANY(${dates.map(formatDate)}::text[])`;
}

/** A profile column by its name (from the fixed list only), else the custom field as text. */
function fieldValue(field: string): RawBuilder<unknown> {
  if (field === 'created_at') return sql`c.created_at`;
  if ((PROFILE_FIELDS as readonly string[]).includes(field)) return sql.ref(`c.${field}`) as unknown as RawBuilder<unknown>;
  return sql`(c.custom_fields ->> ${field})`;
}

/** The local fire dates of one contact's field whose instant (at `time` in `zone`) falls in (from, to]. */
export function fireDatesIn(
  config: Extract<DateTriggerConfig, { kind: 'field' }>,
  value: unknown,
  zone: string,
  window: { from: Date; to: Date },
): CivilDate[] {
  const parsed = parseFieldDate(value);
  if (!parsed) return [];
  const date = fieldDateIn(parsed, zone);
  const candidates: CivilDate[] = [];
  if (!config.annual) candidates.push(addDays(date, config.offsetDays));
  else {
    const firstYear = window.from.getUTCFullYear() - 1;
    const lastYear = window.to.getUTCFullYear() + 1;
    for (let y = Math.max(firstYear, date.y); y <= lastYear; y++) candidates.push(addDays(anniversaryIn(date, y), config.offsetDays));
  }
  return candidates.filter((f) => {
    const t = zonedTimeToUtc(f, config.time, zone).getTime();
    return t > window.from.getTime() && t <= window.to.getTime();
  });
}

/**
 * Enrolls the contacts whose date field fires in (from, to] in their zone (the `timezone` custom field when it is
 * a valid IANA zone, else the workspace's), pages of contacts by id, each page its own transaction. Returns the
 * number enrolled and, when `maxPages` ran out first, the id to go on after.
 */
export async function scanDateField(
  db: Db,
  signal: QueueSignal,
  automationId: string,
  window: { from: Date; to: Date; after?: string },
  maxPages = Number.POSITIVE_INFINITY,
): Promise<{ enrolled: number; after?: string }> {
  const a = await loadAutomation(db, automationId);
  const config = a?.status === 'active' ? dateTriggerOf(a) : null;
  if (!a || config?.kind !== 'field' || window.to <= window.from) return { enrolled: 0 };
  const filter = prefilter(config, window);
  let after = window.after !== undefined && isUuid(window.after) ? window.after : FIRST_ID;
  let enrolled = 0;
  for (let page = 0; page < maxPages; page++) {
    const n = await inTransaction(db, async (trx) => {
      const rows = await sql<{ id: string; value: unknown; zone: string | null }>`
        SELECT c.id, ${fieldValue(config.field)} AS value, c.custom_fields ->> 'timezone' AS zone
          FROM contacts c ${audienceJoin(config.audienceId)}
         WHERE c.workspace_id = ${a.workspace_id} AND c.status = 'subscribed' AND c.id > ${after}::uuid AND ${filter}
         ORDER BY c.id LIMIT ${PAGE}`.execute(trx);
      if (rows.rows.length === 0) return null;
      after = rows.rows[rows.rows.length - 1]!.id;
      const due = rows.rows.flatMap((r) =>
        fireDatesIn(config, r.value, zoneOrFallback(r.zone, a.timezone), window).map((f) => ({ contactId: r.id, occurrence: formatDate(f) })),
      );
      return enrollOnce(trx, signal, a, due);
    });
    if (n === null) return { enrolled };
    if (n > 0) signal.wakeLocal(JOBS_TOPIC);
    enrolled += n;
  }
  return { enrolled, after };
}

const readDate = (v: unknown): Date | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isNaN(t) ? undefined : new Date(t);
};

/**
 * The recurring scan job. Its payload carries where it stands: `scannedUntil` (the end of the last window done) and,
 * while a window is worked through in several runs, that window's end and the last contact id done. The payload
 * is updated on the job's own row; a crash before that repeats a window, which the occurrences make harmless.
 */
export async function runDateScan(db: Db, signal: QueueSignal, payload: Record<string, unknown>, jobId: string, now: Date = new Date()): Promise<RunOutcome> {
  const automationId = payload.automationId;
  if (typeof automationId !== 'string') return { enrolled: 0 };
  const to = readDate(payload.windowEnd) ?? now;
  const from = new Date(Math.max(readDate(payload.scannedUntil)?.getTime() ?? to.getTime() - DATE_SCAN_EVERY_MS, to.getTime() - MAX_CATCH_UP_MS));
  const after = typeof payload.after === 'string' ? payload.after : undefined;
  const a = await loadAutomation(db, automationId);
  if (!a || a.status !== 'active' || dateTriggerOf(a)?.kind !== 'field') return { enrolled: 0 };
  const result = await scanDateField(db, signal, automationId, { from, to, ...(after ? { after } : {}) }, PAGES_PER_RUN);
  const next = result.after
    ? { automationId, scannedUntil: from.toISOString(), windowEnd: to.toISOString(), after: result.after }
    : { automationId, scannedUntil: to.toISOString() };
  await db.updateTable('jobs').set({ payload: JSON.stringify(next) }).where('id', '=', jobId).execute();
  return { enrolled: result.enrolled, retryAt: result.after ? now : new Date(to.getTime() + DATE_SCAN_EVERY_MS) };
}

/** The hourly repair job: the queue, and how many automations one run looks at. */
export const ENSURE_DATE_SCANS_QUEUE = 'automation.ensure-date-scans';
const ENSURE_LIMIT = 1000;

/**
 * Gives every active date_field automation without a waiting scan job a new one (a scan that failed on its last
 * attempt, or an activation that did not schedule it), its window starting now. Fixed-`at` jobs are not
 * recreated: once done, they are done. Returns the number of scans started.
 */
export async function ensureDateScans(db: Db, signal: QueueSignal, now: Date = new Date()): Promise<number> {
  const missing = await sql<{ id: string }>`
    SELECT a.id FROM automations a
     WHERE a.status = 'active' AND a.trigger_type = 'date_time' AND a.trigger_config ->> 'date_field' IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.dedupe_key = 'automation:' || a.id || ':date-scan' AND j.status IN ('pending', 'running'))
     ORDER BY a.id LIMIT ${ENSURE_LIMIT}`.execute(db);
  let started = 0;
  for (const { id } of missing.rows) {
    const job = await insertJob(db, { queue: DATE_SCAN_QUEUE, dedupeKey: scanDedupeKey(id), payload: { automationId: id, scannedUntil: now.toISOString() }, runAt: now, maxAttempts: 10 });
    if (job) started++;
  }
  if (started > 0) signal.wakeLocal(JOBS_TOPIC);
  return started;
}
