import { isDatabaseUnavailable } from '../db/pg-errors.js';
import { ApiError } from './errors.js';

/** Long enough for a database failover or a restart to finish; clients retry after it. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * A request that failed because the database is unreachable or too slow is the client's to retry, not a
 * bug: 503 SERVICE_UNAVAILABLE with Retry-After. Anything else is left to the usual mapping (null).
 */
export function serviceUnavailable(err: unknown): ApiError | null {
  if (err instanceof ApiError || !isDatabaseUnavailable(err)) return null;
  return new ApiError('SERVICE_UNAVAILABLE', 'The database is unavailable right now; retry shortly', {
    headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
  });
}
