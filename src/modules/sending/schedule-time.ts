import { DateTime, IANAZone } from 'luxon';
import { ApiError } from '../../platform/http/errors.js';

const LOCAL_FORMAT = /^(\d{4}-\d{2}-\d{2})[T_ ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)$/;
const ZONED_FORMAT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

export interface ScheduleTime {
  at: Date;
  timezone: string;
}

const invalid = (message: string) => new ApiError('INVALID_SCHEDULE_TIME', message);

/** Longer than any time or zone name a client sends: refused before a pattern or Luxon reads it, and never echoed whole. */
const MAX_TEXT = 64;
const shown = (text: string): string => JSON.stringify(text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text);

/**
 * Reads a schedule time as the clients send it:
 * - zoned ISO 8601 (`2026-06-01T09:00:00Z`, `…+02:00`): the offset wins over `timezone`;
 * - `YYYY-MM-DDTHH:MM[:SS]` or `YYYY-MM-DD_HH:MM:SS`: a wall-clock time in `timezone` (IANA, default UTC).
 * Wall-clock times that do not exist (a spring-forward gap) move forward by the gap (02:30 → 03:30); times that
 * occur twice (a fall-back overlap) mean the first occurrence (the earlier instant).
 */
export function parseScheduleTime(value: unknown, timezone: unknown): ScheduleTime {
  if (value === undefined || value === null || value === '') throw new ApiError('VALIDATION_ERROR', "Field 'scheduled_at' (or 'scheduled_for') is required");
  if (typeof value !== 'string') throw invalid("Field 'scheduled_at' must be a string such as 2026-06-01T09:00:00Z or 2026-06-01_09:00:00");
  let zone = 'UTC';
  if (timezone !== undefined && timezone !== null && timezone !== '') {
    if (typeof timezone !== 'string' || timezone.length > MAX_TEXT || !IANAZone.isValidZone(timezone)) {
      throw new ApiError('VALIDATION_ERROR', `Field 'timezone' must be an IANA time zone such as "Europe/Berlin"; got ${typeof timezone === 'string' ? shown(timezone) : typeof timezone}`);
    }
    zone = timezone;
  }
  const text = value.trim();
  const format = "Field 'scheduled_at' must look like 2026-06-01T09:00:00 (in 'timezone'), 2026-06-01_09:00:00 or 2026-06-01T09:00:00Z";
  if (text.length > MAX_TEXT) throw invalid(`${format}; got ${shown(text)}`);
  if (ZONED_FORMAT.test(text)) {
    const dt = DateTime.fromISO(text.replace(' ', 'T'), { setZone: true });
    if (!dt.isValid) throw invalid(`Field 'scheduled_at' is not a valid time: ${dt.invalidExplanation ?? text}`);
    return { at: dt.toJSDate(), timezone: zone };
  }
  const local = LOCAL_FORMAT.exec(text);
  if (!local) throw invalid(`${format}; got ${shown(text)}`);
  const dt = DateTime.fromISO(`${local[1]}T${local[2]}`, { zone });
  if (!dt.isValid) throw invalid(`Field 'scheduled_at' is not a valid time: ${dt.invalidExplanation ?? text}`);
  return { at: resolveOverlap(dt).toJSDate(), timezone: zone };
}

/** Luxon already moves gap times forward; for an ambiguous wall-clock time pick the earlier instant explicitly. */
function resolveOverlap(dt: DateTime): DateTime {
  const candidates = dt.getPossibleOffsets();
  if (candidates.length < 2) return dt;
  return candidates.reduce((earliest, c) => (c.toMillis() < earliest.toMillis() ? c : earliest));
}

export function checkWindow(at: Date, now: Date, minSeconds: number, maxDays: number): void {
  const delta = at.getTime() - now.getTime();
  if (delta < minSeconds * 1000) {
    throw invalid(`scheduled_at must be at least ${minSeconds} seconds in the future (it is ${at.toISOString()}, now is ${now.toISOString()})`);
  }
  if (delta > maxDays * 86_400_000) throw invalid(`scheduled_at must be at most ${maxDays} days ahead (it is ${at.toISOString()})`);
}
