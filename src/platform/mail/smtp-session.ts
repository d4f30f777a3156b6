import { isIP } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { errorCodeOf } from './smtp-errors.js';
import { openSmtpSocket } from './smtp-socket.js';
import type { Envelope } from './types.js';

export interface SmtpSessionOptions {
  /** IP address to connect to. */
  address: string;
  /** Host name the address belongs to, for TLS SNI and reporting (may equal `address`). */
  hostname: string;
  port: number;
  heloName: string;
  timeoutMs: number;
  /** Use STARTTLS when the server offers it (certificate not verified unless verifyCertificate). */
  starttls: boolean;
  /** TLS from the first byte (smtps://). */
  secure?: boolean;
  /** Check the server's certificate: a relay we chose must prove who it is; opportunistic MX TLS need not. */
  verifyCertificate?: boolean;
  auth?: { user: string; pass: string };
  /** Send `auth` even when the session is not encrypted (default false: the session fails before AUTH). */
  allowInsecureAuth?: boolean;
}

/** The error code of a session that ended before AUTH because it had no TLS to send the credentials over. */
export const CREDENTIALS_WITHHELD = 'ENOTLS';

export type SmtpSendInfo = SMTPConnection.SentMessageInfo;

/**
 * One SMTP session to one server, wrapping nodemailer's SMTPConnection so that every failure —
 * including the ones it only reports as 'error' events (timeouts, dropped connections) —
 * settles the pending promise.
 */
export class SmtpSession {
  private alive = true;
  private messages = 0;
  private pending: ((err: unknown) => void) | null = null;

  private constructor(
    private readonly connection: SMTPConnection,
    readonly hostname: string,
    readonly address: string,
  ) {
    connection.on('error', (err) => this.fail(err));
    connection.on('end', () => this.fail(Object.assign(new Error('connection closed'), { code: 'ECONNECTION' })));
  }

  static async open(opts: SmtpSessionOptions): Promise<SmtpSession> {
    const connection = new SMTPConnection({
      connection: openSmtpSocket(opts.address, opts.port),
      host: opts.address,
      port: opts.port,
      secure: opts.secure ?? false,
      name: opts.heloName,
      ignoreTLS: !opts.starttls,
      opportunisticTLS: true,
      tls: {
        // Opportunistic TLS (RFC 7435) is about passive eavesdropping: a self-signed or
        // mismatched certificate still beats the plain text that refusing it would leave us with.
        rejectUnauthorized: opts.verifyCertificate ?? false,
        ...(isIP(opts.hostname) === 0 ? { servername: opts.hostname } : {}),
      },
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: opts.timeoutMs,
      logger: false,
    });
    const session = new SmtpSession(connection, opts.hostname, opts.address);
    try {
      await session.settle<void>((resolve) => connection.connect(() => resolve()));
      const auth = opts.auth;
      if (auth && !connection.secure && !opts.allowInsecureAuth) {
        // a refused or missing STARTTLS leaves the session in plain text, where the password could be read
        throw Object.assign(new Error('credentials not sent: the server offered no TLS (no STARTTLS, or it failed), and AUTH is only sent over TLS'), {
          code: CREDENTIALS_WITHHELD,
        });
      }
      if (auth) await session.settle<void>((resolve, reject) => connection.login(auth, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      session.close();
      // nodemailer reports a failed handshake as a plain socket error (ESOCKET); its `upgrading`
      // flag, set only while STARTTLS is being negotiated, tells the two apart.
      if (Reflect.get(connection, 'upgrading') === true || errorCodeOf(err) === 'ETLS') {
        const reason = err instanceof Error ? err.message.trim() : String(err);
        throw Object.assign(new Error(`STARTTLS negotiation failed: ${reason}`, { cause: err }), { code: 'ETLS' });
      }
      throw err;
    }
    return session;
  }

  get usable(): boolean {
    return this.alive;
  }

  get messageCount(): number {
    return this.messages;
  }

  send(envelope: Envelope, raw: Buffer): Promise<SmtpSendInfo> {
    this.messages++;
    return this.settle<SmtpSendInfo>((resolve, reject) =>
      this.connection.send({ from: envelope.from, to: envelope.to }, raw, (err, info) => (err ? reject(err) : resolve(info))),
    );
  }

  /** Clears a refused transaction (RSET), so the session can carry the next message. */
  reset(): Promise<void> {
    return this.settle<void>((resolve, reject) => this.connection.reset((err) => (err ? reject(err) : resolve())));
  }

  /** Ends the session politely; safe to call on a dead session. */
  quit(): void {
    if (!this.alive) return;
    this.alive = false;
    this.connection.quit();
  }

  close(): void {
    this.alive = false;
    this.connection.close();
  }

  private settle<T>(start: (resolve: (value: T) => void, reject: (err: unknown) => void) => void): Promise<T> {
    if (!this.alive) return Promise.reject(Object.assign(new Error('connection closed'), { code: 'ECONNECTION' }));
    return new Promise<T>((resolve, reject) => {
      this.pending = reject;
      start(
        (value) => {
          this.pending = null;
          resolve(value);
        },
        (err) => {
          this.pending = null;
          reject(err);
        },
      );
    });
  }

  private fail(err: unknown): void {
    this.alive = false;
    const pending = this.pending;
    this.pending = null;
    pending?.(err);
  }
}
