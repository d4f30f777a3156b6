import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { outcomesFromSendError, outcomesFromSendResult } from './smtp-outcomes.js';
import { openSmtpSocket } from './smtp-socket.js';
import type { Envelope, RecipientOutcome, Transport } from './types.js';

export interface SmtpRelayOptions {
  /** Parallel connections to the relay (default 5). */
  maxConnections?: number;
  /** Messages per connection before it is recycled (default 100). */
  maxMessages?: number;
  /** Connect/greeting/inactivity timeout in ms (default 30 s). */
  timeoutMs?: number;
  tls?: { rejectUnauthorized?: boolean };
}

export interface SmtpRelayTarget {
  /** true for smtps:// (TLS from the first byte); smtp:// upgrades with STARTTLS when offered. */
  secure: boolean;
  host: string;
  port: number;
  auth?: { user: string; pass: string };
}

/**
 * Parses `smtp://[user:pass@]host[:port]` or `smtps://...`. Default ports: 587 (submission) for
 * smtp://, 465 for smtps://. Credentials may be percent-encoded. Error messages never echo the
 * URL, which may hold a password.
 */
export function parseSmtpUrl(url: string): SmtpRelayTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('SMTP URL is not a valid URL (expected smtp://[user:pass@]host[:port] or smtps://...)');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    throw new Error(`SMTP URL must start with smtp:// or smtps://, got ${parsed.protocol}//`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new Error('SMTP URL has no host');
  const secure = parsed.protocol === 'smtps:';
  const port = parsed.port === '' ? (secure ? 465 : 587) : Number(parsed.port);
  const target: SmtpRelayTarget = { secure, host, port };
  if (parsed.username !== '') {
    try {
      target.auth = { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) };
    } catch {
      throw new Error('SMTP URL credentials are not valid percent-encoding');
    }
  }
  return target;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/**
 * Delivers everything through one configured relay (an ESP or a smarthost) over a pool of
 * reused SMTP connections.
 */
export function createSmtpRelayTransport(url: string, opts: SmtpRelayOptions = {}): Transport {
  const target = parseSmtpUrl(url);
  const timeoutMs = positiveInteger(opts.timeoutMs, 30_000, 'timeoutMs');
  const options: SMTPPool.Options = {
    pool: true,
    host: target.host,
    port: target.port,
    secure: target.secure,
    maxConnections: positiveInteger(opts.maxConnections, 5, 'maxConnections'),
    maxMessages: positiveInteger(opts.maxMessages, 100, 'maxMessages'),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    tls: { rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true },
    logger: false,
    // Supply our own socket so TCP_NODELAY is set (see openSmtpSocket). The callback is called
    // synchronously with a connecting socket: nodemailer's pool leaks the connection slot when
    // getSocket reports an error, so connect failures must surface through the socket instead.
    getSocket: (_options, callback) => callback(null, { connection: openSmtpSocket(target.host, target.port) }),
  };
  if (target.auth) options.auth = target.auth;
  const pool = nodemailer.createTransport(options);
  const host = target.host;

  return {
    kind: 'smtp',

    async send(envelope: Envelope, raw: Buffer): Promise<RecipientOutcome[]> {
      if (envelope.to.length === 0) return [];
      try {
        const info = await pool.sendMail({ envelope: { from: envelope.from, to: envelope.to }, raw });
        const sentAs = Array.isArray(info.envelope.to) ? info.envelope.to : undefined;
        return outcomesFromSendResult(envelope.to, info, host, sentAs);
      } catch (err) {
        return outcomesFromSendError(envelope.to, err, host);
      }
    },

    async close(): Promise<void> {
      pool.close();
    },
  };
}
