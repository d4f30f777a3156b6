import { describe, expect, it } from 'vitest';
import { addDays, anniversaryIn, fieldDateIn, formatDate, isValidTimeZone, localDate, parseFieldDate, zoneOrFallback, zonedTimeToUtc } from './time-zones.js';

const iso = (d: Date) => d.toISOString();

describe('zonedTimeToUtc', () => {
  it('reads a plain day in UTC, Europe/Berlin in winter and summer, and Pacific/Auckland across the date line', () => {
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 10 }, '09:00', 'UTC'))).toBe('2026-03-10T09:00:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 1, d: 15 }, '09:00', 'Europe/Berlin'))).toBe('2026-01-15T08:00:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 7, d: 15 }, '09:00', 'Europe/Berlin'))).toBe('2026-07-15T07:00:00.000Z');
    // NZDT is UTC+13: 09:00 on the 15th is the evening of the 14th in UTC
    expect(iso(zonedTimeToUtc({ y: 2026, m: 1, d: 15 }, '09:00', 'Pacific/Auckland'))).toBe('2026-01-14T20:00:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 7, d: 15 }, '09:00', 'Pacific/Auckland'))).toBe('2026-07-14T21:00:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 10 }, '09:00', 'Asia/Tokyo'))).toBe('2026-03-10T00:00:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 10 }, '09:00', 'America/New_York'))).toBe('2026-03-10T13:00:00.000Z');
  });

  it('moves a wall time a spring-forward gap skips to the first valid instant after it', () => {
    // Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00Z)
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 29 }, '02:30', 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 29 }, '01:59', 'Europe/Berlin'))).toBe('2026-03-29T00:59:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 29 }, '03:00', 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 29 }, '09:00', 'Europe/Berlin'))).toBe('2026-03-29T07:00:00.000Z');
    // Auckland, 27 September 2026: 02:00 NZST becomes 03:00 NZDT (14:00Z the day before)
    expect(iso(zonedTimeToUtc({ y: 2026, m: 9, d: 27 }, '02:15', 'Pacific/Auckland'))).toBe('2026-09-26T14:00:00.000Z');
  });

  it('takes the first of the two instants a fall-back overlap repeats', () => {
    // Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30 happens at 00:30Z and again at 01:30Z
    expect(iso(zonedTimeToUtc({ y: 2026, m: 10, d: 25 }, '02:30', 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 10, d: 25 }, '09:00', 'Europe/Berlin'))).toBe('2026-10-25T08:00:00.000Z');
    // Auckland, 5 April 2026: 03:00 NZDT becomes 02:00 NZST; 02:30 first happens at 13:30Z on the 4th
    expect(iso(zonedTimeToUtc({ y: 2026, m: 4, d: 5 }, '02:30', 'Pacific/Auckland'))).toBe('2026-04-04T13:30:00.000Z');
  });

  it('counts an invalid zone as UTC', () => {
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 29 }, '02:30', 'Mars/Olympus_Mons'))).toBe('2026-03-29T02:30:00.000Z');
    expect(iso(zonedTimeToUtc({ y: 2026, m: 3, d: 29 }, '02:30', ''))).toBe('2026-03-29T02:30:00.000Z');
  });
});

describe('zones and dates', () => {
  it('knows valid zones and falls back from invalid ones', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Europe/Nowhere')).toBe(false);
    expect(isValidTimeZone('x'.repeat(10_000))).toBe(false);
    expect(isValidTimeZone(42)).toBe(false);
    expect(zoneOrFallback('Asia/Tokyo', 'Europe/Berlin')).toBe('Asia/Tokyo');
    expect(zoneOrFallback('Nope/Nope', 'Europe/Berlin')).toBe('Europe/Berlin');
    expect(zoneOrFallback(null, 'Nope/Nope')).toBe('UTC');
  });

  it('reads date fields, skipping malformed and impossible ones without slow parsing', () => {
    expect(parseFieldDate('2026-03-10')).toEqual({ kind: 'date', date: { y: 2026, m: 3, d: 10 } });
    expect(parseFieldDate('2026-03-10T10:00')).toEqual({ kind: 'date', date: { y: 2026, m: 3, d: 10 } });
    expect(parseFieldDate('2026-03-10T23:30:00Z')).toEqual({ kind: 'instant', ms: Date.UTC(2026, 2, 10, 23, 30) });
    expect(parseFieldDate('2026-03-10T23:30:00.5+05:30')).toEqual({ kind: 'instant', ms: Date.UTC(2026, 2, 10, 18, 0, 0, 500) });
    expect(parseFieldDate(new Date(Date.UTC(2026, 0, 1)))).toEqual({ kind: 'instant', ms: Date.UTC(2026, 0, 1) });
    for (const bad of ['2026-02-30', '2026-13-01', '10/03/2026', 'tomorrow', '', '2026-03-10T25:00:00Z', '2026-03-10Z', 20260310, null, {}]) {
      expect(parseFieldDate(bad), String(bad)).toBeNull();
    }
    // long and adversarial inputs are refused by length before any pattern runs
    expect(parseFieldDate(`2026-03-10${'0'.repeat(100_000)}`)).toBeNull();
    expect(parseFieldDate(`2026-03-10T00:00:00.${'1'.repeat(30)}`)).toBeNull();
  });

  it('places an instant on the date of the contact zone, and does calendar arithmetic', () => {
    const instant = parseFieldDate('2026-03-10T20:00:00Z')!;
    expect(formatDate(fieldDateIn(instant, 'Asia/Tokyo'))).toBe('2026-03-11');
    expect(formatDate(fieldDateIn(instant, 'America/New_York'))).toBe('2026-03-10');
    expect(formatDate(localDate(Date.UTC(2026, 0, 1, 12), 'Pacific/Auckland'))).toBe('2026-01-02');
    expect(formatDate(addDays({ y: 2026, m: 2, d: 28 }, 1))).toBe('2026-03-01');
    expect(formatDate(addDays({ y: 2026, m: 1, d: 1 }, -1))).toBe('2025-12-31');
    expect(formatDate(anniversaryIn({ y: 1992, m: 2, d: 29 }, 2026))).toBe('2026-02-28');
    expect(formatDate(anniversaryIn({ y: 1992, m: 2, d: 29 }, 2028))).toBe('2028-02-29');
  });
});
