import { describe, expect, it } from 'vitest';
import { ApiError } from '../../platform/http/errors.js';
import { checkWindow, parseScheduleTime } from './schedule-time.js';

const iso = (v: string, tz?: string) => parseScheduleTime(v, tz).at.toISOString();

describe('parseScheduleTime', () => {
  it('reads wall-clock times in the timezone, default UTC', () => {
    expect(iso('2027-01-15T09:00:00')).toBe('2027-01-15T09:00:00.000Z');
    expect(iso('2027-01-15T09:00:00', 'America/New_York')).toBe('2027-01-15T14:00:00.000Z');
    expect(iso('2027-01-15_09:00:00', 'Asia/Tokyo')).toBe('2027-01-15T00:00:00.000Z');
    expect(iso('2027-07-15T09:00', 'Europe/Berlin')).toBe('2027-07-15T07:00:00.000Z');
  });

  it('lets the offset of a zoned ISO time win over timezone', () => {
    expect(iso('2027-01-15T09:00:00Z', 'America/New_York')).toBe('2027-01-15T09:00:00.000Z');
    expect(iso('2027-01-15T09:00:00.000+02:00', 'Asia/Tokyo')).toBe('2027-01-15T07:00:00.000Z');
  });

  it('moves a time in a spring-forward gap forward by the gap', () => {
    // 2027-03-14 02:30 does not exist in New York (clocks jump 02:00 → 03:00)
    expect(iso('2027-03-14T02:30:00', 'America/New_York')).toBe('2027-03-14T07:30:00.000Z');
  });

  it('takes the first occurrence of a time that happens twice (fall back)', () => {
    // 2027-11-07 01:30 happens at -04:00 and again at -05:00 in New York
    expect(iso('2027-11-07T01:30:00', 'America/New_York')).toBe('2027-11-07T05:30:00.000Z');
  });

  it('refuses unknown time zones and unreadable times', () => {
    expect(() => parseScheduleTime('2027-01-15T09:00:00', 'Mars/Olympus')).toThrow(/IANA time zone/);
    for (const bad of ['tomorrow', '2027-13-01T09:00:00', '15/01/2027 09:00', 12345]) {
      const err = (() => {
        try {
          parseScheduleTime(bad, undefined);
        } catch (e) {
          return e as ApiError;
        }
        return null;
      })();
      expect(err?.code, String(bad)).toBe('INVALID_SCHEDULE_TIME');
    }
  });

  it('refuses a huge time or zone without echoing it back whole', () => {
    const huge = `2026-06-01T09:00:00${'0'.repeat(5_000_000)}`;
    const refusal = (fn: () => unknown): ApiError => {
      try {
        fn();
      } catch (e) {
        return e as ApiError;
      }
      throw new Error('not refused');
    };
    const time = refusal(() => parseScheduleTime(huge, undefined));
    expect(time.code).toBe('INVALID_SCHEDULE_TIME');
    expect(time.message.length).toBeLessThan(300);
    const zone = refusal(() => parseScheduleTime('2026-06-01T09:00:00', `Europe/${'x'.repeat(5_000_000)}`));
    expect(zone.code).toBe('VALIDATION_ERROR');
    expect(zone.message.length).toBeLessThan(300);
  });

  it('enforces the window', () => {
    const now = new Date('2027-01-01T00:00:00Z');
    expect(() => checkWindow(new Date('2027-01-01T00:00:30Z'), now, 60, 365)).toThrow(/at least 60 seconds/);
    expect(() => checkWindow(new Date('2026-12-31T00:00:00Z'), now, 60, 365)).toThrow(ApiError);
    expect(() => checkWindow(new Date('2028-01-02T00:00:00Z'), now, 60, 365)).toThrow(/at most 365 days/);
    expect(() => checkWindow(new Date('2027-01-01T00:01:01Z'), now, 60, 365)).not.toThrow();
  });
});
