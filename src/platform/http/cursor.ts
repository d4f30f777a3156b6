import { ApiError } from './errors.js';

export interface Cursor {
  createdAt: Date;
  id: string;
}

/** Opaque keyset cursor: stable under inserts, unlike page offsets. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.id])).toString('base64url');
}

/**
 * Times a query may compare with: four-digit years (ISO 8601 without expansion). JavaScript dates reach back to
 * 271,822 BC, which PostgreSQL cannot hold, so a time outside would fail at the database instead of here.
 */
const EARLIEST = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST = new Date('9999-12-31T23:59:59.999Z').getTime();
const storable = (d: Date): boolean => d.getTime() >= EARLIEST && d.getTime() <= LATEST;

export function decodeCursor(value: string | undefined): Cursor | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    // our ids never hold a NUL, which PostgreSQL cannot compare with
    if (Array.isArray(parsed) && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' && !parsed[1].includes('\0')) {
      const createdAt = new Date(parsed[0]);
      if (storable(createdAt)) return { createdAt, id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new ApiError('VALIDATION_ERROR', "Query parameter 'cursor' is not a cursor this API returned");
}

export function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || value === '' || value === '0') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ApiError('VALIDATION_ERROR', "Query parameter 'limit' must be a positive integer");
  return Math.min(n, max);
}

export function parseTime(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const d = /^\d+$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) throw new ApiError('VALIDATION_ERROR', `Query parameter '${name}' must be an ISO 8601 time or Unix seconds`);
  if (!storable(d)) throw new ApiError('VALIDATION_ERROR', `Query parameter '${name}' must be a time between the years 1 and 9999`);
  return d;
}
