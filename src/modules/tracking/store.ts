import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { EmailEventType } from '../../platform/lifecycle.js';

/**
 * Timeline rows per email and kind: the first RECORDED_PEOPLE opens (or clicks) by people and RECORDED_BOTS by
 * bots are written to message_events (so to webhooks); every one after is only counted. A tracking URL is in
 * every copy of the email and may be fetched by anyone who has one, so without a bound one forwarded email could
 * fill the database and a receiver's webhook endpoint.
 */
export const RECORDED_PEOPLE = 100;
export const RECORDED_BOTS = 20;

export interface Visit {
  bot: boolean;
  /** the start of the User-Agent, or null */
  userAgent: string | null;
  /** GET or HEAD */
  method: string;
}

/**
 * Counts one open, and records it while under the bounds, in one statement: the email's row is updated (its count
 * and, for the first open by a person, opened_at) and the event is inserted from what the update returned, so two
 * opens at once cannot both be `first`. Nothing happens for an email that is gone or not tracked.
 */
export async function recordOpen(db: Db, emailId: string, visit: Visit): Promise<void> {
  const person = !visit.bot;
  const type: EmailEventType = 'opened';
  const detail = JSON.stringify({ bot: visit.bot, method: visit.method, user_agent: visit.userAgent });
  await sql`
    WITH m AS (
      UPDATE messages SET
        open_count = open_count + ${person ? 1 : 0},
        bot_open_count = bot_open_count + ${person ? 0 : 1},
        opened_at = CASE WHEN ${person}::boolean THEN coalesce(opened_at, now()) ELSE opened_at END
      WHERE id = ${emailId} AND track_opens
      RETURNING id, recipients_count, open_count, bot_open_count
    )
    INSERT INTO message_events (message_id, type, recipient, detail)
    SELECT m.id, ${type},
      -- the recipient is known only when the email has one (every recipient gets the same pixel)
      (SELECT r.email FROM message_recipients r WHERE r.message_id = m.id AND m.recipients_count = 1 LIMIT 1),
      ${detail}::jsonb || jsonb_build_object('first', ${person}::boolean AND m.open_count = 1)
    FROM m
    WHERE (${person}::boolean AND m.open_count <= ${RECORDED_PEOPLE}) OR (NOT ${person}::boolean AND m.bot_open_count <= ${RECORDED_BOTS})`.execute(db);
}

/**
 * Counts one click on link `index` and answers the URL signed into that link (stored with the email when it was
 * accepted), or null when the email or the link is not there. Bounded and recorded like recordOpen.
 */
export async function recordClick(db: Db, emailId: string, index: number, visit: Visit): Promise<string | null> {
  const person = !visit.bot;
  const type: EmailEventType = 'clicked';
  const detail = JSON.stringify({ bot: visit.bot, method: visit.method, link_index: index, user_agent: visit.userAgent });
  const res = await sql<{ url: string }>`
    WITH m AS (
      UPDATE messages SET
        click_count = click_count + ${person ? 1 : 0},
        bot_click_count = bot_click_count + ${person ? 0 : 1},
        clicked_at = CASE WHEN ${person}::boolean THEN coalesce(clicked_at, now()) ELSE clicked_at END
      WHERE id = ${emailId} AND jsonb_typeof(tracked_links -> ${index}::int) = 'string'
      RETURNING id, recipients_count, click_count, bot_click_count, tracked_links ->> ${index}::int AS url
    ), e AS (
      INSERT INTO message_events (message_id, type, recipient, detail)
      SELECT m.id, ${type},
        (SELECT r.email FROM message_recipients r WHERE r.message_id = m.id AND m.recipients_count = 1 LIMIT 1),
        ${detail}::jsonb || jsonb_build_object('url', m.url, 'first', ${person}::boolean AND m.click_count = 1)
      FROM m
      WHERE (${person}::boolean AND m.click_count <= ${RECORDED_PEOPLE}) OR (NOT ${person}::boolean AND m.bot_click_count <= ${RECORDED_BOTS})
    )
    SELECT url FROM m`.execute(db);
  return res.rows[0]?.url ?? null;
}
