import os from 'node:os';
import { errorCodeOf, isRefusedTransaction, replyCodeOfError } from './smtp-errors.js';
import { outcomesFromSendError, outcomesFromSendResult } from './smtp-outcomes.js';
import { CREDENTIALS_WITHHELD, SmtpSession } from './smtp-session.js';
import type { Envelope, RecipientOutcome, Transport } from './types.js';

export interface SmtpRelayOptions {
  /** Parallel connections to the relay (default 5). */
  maxConnections?: number;
  /** Messages per connection before it is recycled (default 100). */
  maxMessages?: number;
  /** Connect/greeting/inactivity timeout in ms (default 30 s). */
  timeoutMs?: number;
  tls?: { rejectUnauthorized?: boolean };
  /** Name given in EHLO (default: this machine's host name). */
  heloName?: string;
  /**
   * Send the URL's credentials even over a connection without TLS (default false: TLS is required before
   * AUTH, from smtps:// or a STARTTLS that succeeds, and mail waits while the relay offers none).
   */
  allowInsecureAuth?: boolean;
  /** Told once, the first time the credentials were withheld because the relay offered no TLS. */
  onCredentialsWithheld?: (relay: string) => void;
  /**
   * Told when the relay stops answering (a connection that could not be made or got no greeting: refused,
   * timed out, unknown host), and when a connection succeeds again: once per change, not once per message.
   */
  onReachability?: (change: RelayReachability) => void;
}

/** `relay` is host:port (never the URL, which may hold a password); `error` says why it could not be reached. */
export type RelayReachability = { relay: string; reachable: false; error: string } | { relay: string; reachable: true };

/** A failure to open a session that says the relay is not there, rather than that it refused us (a reply, AUTH, TLS). */
function isUnreachable(err: unknown): boolean {
  const code = errorCodeOf(err);
  return replyCodeOfError(err) === null && code !== 'EAUTH' && code !== 'ETLS' && code !== CREDENTIALS_WITHHELD;
}

export interface SmtpRelayTarget {
  /** true for smtps:// (TLS from the first byte); smtp:// upgrades with STARTTLS when offered, and must with credentials. */
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
 * Delivers everything through one configured relay (an ESP or a smarthost) over a pool of reused SMTP
 * sessions. The sessions are nodemailer's SMTPConnection used directly: the Mailer layer on top would wrap
 * every already-composed message again (a MIME node, a Message-ID, a stream pipeline) for nothing.
 */
export function createSmtpRelayTransport(url: string, opts: SmtpRelayOptions = {}): Transport {
  const target = parseSmtpUrl(url);
  const timeoutMs = positiveInteger(opts.timeoutMs, 30_000, 'timeoutMs');
  const maxConnections = positiveInteger(opts.maxConnections, 5, 'maxConnections');
  const maxMessages = positiveInteger(opts.maxMessages, 100, 'maxMessages');
  const host = target.host;
  const idle: SmtpSession[] = [];
  const waiting: { resolve: (session: SmtpSession) => void; reject: (err: unknown) => void }[] = [];
  /** sessions open or being opened */
  let open = 0;
  let closed = false;
  let toldWithheld = false;
  let unreachable = false;
  const relay = `${host}:${target.port}`;
  const reachability = (reachable: boolean, err?: unknown) => {
    if (reachable === !unreachable) return;
    unreachable = !reachable;
    opts.onReachability?.(reachable ? { relay, reachable } : { relay, reachable, error: (err as Error).message });
  };

  const connect = () =>
    SmtpSession.open({
      address: host,
      hostname: host,
      port: target.port,
      heloName: opts.heloName ?? os.hostname(),
      timeoutMs,
      starttls: true,
      secure: target.secure,
      verifyCertificate: opts.tls?.rejectUnauthorized ?? true,
      ...(target.auth ? { auth: target.auth, allowInsecureAuth: opts.allowInsecureAuth ?? false } : {}),
    });

  /** A usable session goes to the message waiting longest, else it waits idle for the next one. */
  function hand(session: SmtpSession): void {
    const next = waiting.shift();
    if (next) next.resolve(session);
    else idle.push(session);
  }

  /**
   * Opens one more session for the pool. When none is left open or opening, the messages waiting fail with the
   * error (deferred: their tier retries them); otherwise they wait for the sessions still there.
   */
  function openOne(): void {
    open++;
    connect().then(
      (session) => {
        reachability(true);
        if (closed) {
          session.quit();
          open--;
        } else hand(session);
      },
      (err: unknown) => {
        open--;
        // a reply, an AUTH or a TLS failure is the relay answering: only silence is an outage
        reachability(!isUnreachable(err), err);
        if (open === 0) for (const next of waiting.splice(0)) next.reject(err);
      },
    );
  }

  /**
   * An idle session, else the first one to be free: a session opened now (while fewer than maxConnections are)
   * or one another message releases, whichever comes first. A message never waits on a handshake (TCP, greeting,
   * EHLO, TLS, AUTH: a relay's greeting alone may be held back on purpose) that a busy session would spare it.
   */
  function acquire(): Promise<SmtpSession> {
    while (idle.length > 0) {
      const session = idle.pop()!;
      if (session.usable) return Promise.resolve(session);
      open--;
    }
    if (closed) return Promise.reject(new Error('the SMTP transport is closed'));
    const session = new Promise<SmtpSession>((resolve, reject) => waiting.push({ resolve, reject }));
    if (open < maxConnections) openOne();
    return session;
  }

  /** Back to the pool. A session retired after maxMessages is replaced at once, so the next message finds one ready. */
  function release(session: SmtpSession): void {
    if (session.usable && session.messageCount < maxMessages && !closed) return hand(session);
    const retired = session.usable;
    session.quit();
    open--;
    if (!closed && (retired || waiting.length > 0)) openOne();
  }

  return {
    kind: 'smtp',

    async send(envelope: Envelope, raw: Buffer): Promise<RecipientOutcome[]> {
      if (envelope.to.length === 0) return [];
      let session: SmtpSession | null = null;
      try {
        session = await acquire();
        const info = await session.send({ from: envelope.from, to: envelope.to }, raw);
        return outcomesFromSendResult(envelope.to, info, host, envelope.to);
      } catch (err) {
        // a refused message leaves the session usable after an RSET, which is far cheaper than a new
        // connection (TCP, greeting, EHLO, TLS, AUTH); anything else may have left it in an unknown state
        if (session && isRefusedTransaction(err) && session.usable) await session.reset().catch(() => session?.close());
        else session?.close();
        if (errorCodeOf(err) === CREDENTIALS_WITHHELD && !toldWithheld) {
          toldWithheld = true;
          opts.onCredentialsWithheld?.(relay);
        }
        return outcomesFromSendError(envelope.to, err, host);
      } finally {
        if (session) release(session);
      }
    },

    async close(): Promise<void> {
      closed = true;
      for (const session of idle.splice(0)) session.quit();
      for (const next of waiting.splice(0)) next.reject(new Error('the SMTP transport is closed'));
    },
  };
}
