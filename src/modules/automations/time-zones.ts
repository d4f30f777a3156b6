/**
 * Wall-clock time in IANA zones for date_time triggers (README, "Automation triggers"), with the platform's
 * Intl.DateTimeFormat only. A wall time that a DST change skips (a gap) becomes the first valid instant after
 * it; one it repeats (an overlap) is its first, earlier instant.
 */

/** A calendar date, month 1-12. */
export interface CivilDate {
  y: number;
  m: number;
  d: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** The longest IANA name is about 30 characters; a longer string is not looked up at all. */
const MAX_ZONE_LENGTH = 64;

/** One formatter per valid zone; only names the runtime accepted are kept, so the map is bounded by the zone list. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat | undefined {
  const known = formatters.get(zone);
  if (known) return known;
  if (zone.length === 0 || zone.length > MAX_ZONE_LENGTH) return undefined;
  try {
    const f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
    return f;
  } catch {
    return undefined;
  }
}

/** Whether the value names an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`). */
export function isValidTimeZone(zone: unknown): zone is string {
  return typeof zone === 'string' && formatterFor(zone) !== undefined;
}

/** The zone when it is valid, else the fallback (itself checked, then UTC). */
export function zoneOrFallback(zone: unknown, fallback: string): string {
  if (isValidTimeZone(zone)) return zone;
  return isValidTimeZone(fallback) ? fallback : 'UTC';
}

/** The wall-clock reading of an instant in a zone (which must be valid). */
function wallClock(ms: number, zone: string): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const parts = formatterFor(zone)!.formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return { y: get('year'), m: get('month'), d: get('day'), h: get('hour'), mi: get('minute'), s: get('second') };
}

/** How far the zone's wall clock is ahead of UTC at an instant, in ms. */
function offsetAt(ms: number, zone: string): number {
  const w = wallClock(ms, zone);
  const whole = Math.floor(ms / 1000) * 1000;
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - whole;
}

/** The calendar date of an instant in a zone (UTC when the zone is not valid). */
export function localDate(ms: number, zone: string): CivilDate {
  const w = wallClock(ms, zoneOrFallback(zone, 'UTC'));
  return { y: w.y, m: w.m, d: w.d };
}

/**
 * The instant at which the wall clock of `zone` shows `time` (HH:MM) on `date`. An invalid zone counts as UTC.
 * Gap (spring forward): the first instant after the skipped hour. Overlap (fall back): the earlier instant.
 */
export function zonedTimeToUtc(date: CivilDate, time: string, zone: string): Date {
  const z = zoneOrFallback(zone, 'UTC');
  const [h, mi] = time.split(':').map(Number) as [number, number];
  const wall = Date.UTC(date.y, date.m - 1, date.d, h, mi);
  // a zone changes its offset at most once within a day either side of any time of interest
  const before = offsetAt(wall - DAY, z);
  const after = offsetAt(wall + DAY, z);
  const matches = [...new Set([before, after])].map((o) => wall - o).filter((t) => offsetAt(t, z) === wall - t);
  if (matches.length > 0) return new Date(Math.min(...matches));
  // the wall time does not exist: find the transition, the first minute on the new offset
  let lo = wall - after;
  let hi = wall - before;
  if (lo > hi) [lo, hi] = [hi, lo];
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
    if (offsetAt(mid, z) === before) lo = mid;
    else hi = mid;
  }
  return new Date(hi);
}

/** The date `days` later (or earlier, when negative). */
export function addDays(date: CivilDate, days: number): CivilDate {
  const t = new Date(Date.UTC(date.y, date.m - 1, date.d) + days * DAY);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

export const formatDate = (date: CivilDate): string =>
  `${String(date.y).padStart(4, '0')}-${String(date.m).padStart(2, '0')}-${String(date.d).padStart(2, '0')}`;

const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** The date's anniversary in year `y`: 29 February falls on 28 February in other years. */
export function anniversaryIn(date: CivilDate, y: number): CivilDate {
  if (date.m === 2 && date.d === 29 && !isLeapYear(y)) return { y, m: 2, d: 28 };
  return { y, m: date.m, d: date.d };
}

/** What a date field holds: a calendar date, or an instant (whose date depends on the contact's zone). */
export type FieldDate = { kind: 'date'; date: CivilDate } | { kind: 'instant'; ms: number };

/** The longest ISO datetime read (`2024-01-31T09:30:00.123456789+05:30` is 35 characters). */
const MAX_DATE_LENGTH = 40;
// anchored, no nested or overlapping quantifiers: linear on any input, and inputs are length-checked first
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/;

function civil(y: string, m: string, d: string): CivilDate | null {
  const date = { y: Number(y), m: Number(m), d: Number(d) };
  const t = new Date(Date.UTC(date.y, date.m - 1, date.d));
  // rejects 2023-02-30 and month 13, which Date.UTC would roll over
  return t.getUTCFullYear() === date.y && t.getUTCMonth() === date.m - 1 && t.getUTCDate() === date.d ? date : null;
}

/**
 * Reads a date field: `YYYY-MM-DD` is that date; an ISO datetime with `Z` or an offset is an instant; one without
 * is its date part (a wall time with no zone says nothing about the instant). A Date (created_at) is an instant.
 * Anything else (too long, malformed, an impossible date) is null and the contact is skipped.
 */
export function parseFieldDate(value: unknown): FieldDate | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : { kind: 'instant', ms: value.getTime() };
  if (typeof value !== 'string' || value.length > MAX_DATE_LENGTH) return null;
  const v = value.trim();
  const dateOnly = DATE_ONLY.exec(v);
  if (dateOnly) {
    const date = civil(dateOnly[1]!, dateOnly[2]!, dateOnly[3]!);
    return date && { kind: 'date', date };
  }
  const dateTime = DATE_TIME.exec(v);
  if (!dateTime) return null;
  const date = civil(dateTime[1]!, dateTime[2]!, dateTime[3]!);
  if (!date) return null;
  if (dateTime[4] === undefined) return { kind: 'date', date };
  const ms = Date.parse(v.replace(' ', 'T'));
  return Number.isNaN(ms) ? null : { kind: 'instant', ms };
}

/** The calendar date a field names for a contact in `zone`. */
export function fieldDateIn(value: FieldDate, zone: string): CivilDate {
  return value.kind === 'date' ? value.date : localDate(value.ms, zone);
}
