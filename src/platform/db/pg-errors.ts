/**
 * Tells "the database is unreachable or too slow right now" (worth retrying: 503) from a real failure of
 * a query (a bug: 500). Errors come from three layers: the socket (Node's system error codes), the pg
 * driver and its pool (plain messages without a code), and the server (SQLSTATE codes).
 */

/** Thrown by our own bounds: a query that outlived its read timeout, or the probe saying the database is away. */
export class DatabaseUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnavailableError';
  }
}

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATE: class 08 is "connection exception"; 57014 a statement cancelled by statement_timeout;
 * 57P01–57P03 a server shutting down, crashed or starting; 53300 too many connections; 25P03 a session
 * ended by idle_in_transaction_session_timeout.
 */
const SQLSTATE_CODES = new Set(['57014', '57P01', '57P02', '57P03', '53300', '25P03']);

// the pg driver's and pg-pool's own messages for a connection that failed, timed out or died (pg 8)
const DRIVER_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Query read timeout',
  'timeout expired',
  'Cannot use a pool after calling end on the pool',
];

function isUnavailableItself(err: object): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && DRIVER_MESSAGES.some((m) => message.startsWith(m));
}

/** True when err, or an error it wraps (`cause`, AggregateError's `errors`), says the database cannot be reached in time. */
export function isDatabaseUnavailable(err: unknown): boolean {
  // a bounded walk: causes may be nested, never deeper than a few levels in practice
  const queue: unknown[] = [err];
  for (let seen = 0; queue.length > 0 && seen < 16; seen++) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null) continue;
    if (isUnavailableItself(e)) return true;
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    if (cause !== undefined) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors.slice(0, 4));
  }
  return false;
}
