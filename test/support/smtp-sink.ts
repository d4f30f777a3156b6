import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/**
 * A real SMTP server on 127.0.0.1 that keeps what it receives, for tests.
 *
 * No authentication is required, but AUTH PLAIN/LOGIN with any credentials is accepted so a
 * relay configured with a user:pass can talk to it. Failures can be injected at each stage:
 * per recipient (RCPT TO), for the whole transaction (MAIL FROM) and after the data (DATA).
 * A 421 reply closes the connection, as on a real server.
 */

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
  receivedAt: number;
  /** Whether the session was upgraded with STARTTLS. */
  secure: boolean;
  /** The username the client authenticated with, if it did. */
  user: string | null;
  /** The name the client gave in EHLO/HELO. */
  heloName: string;
}

export interface SmtpReply {
  code: number;
  message: string;
}

export type RecipientFailure = (rcpt: string) => SmtpReply | null;
export type TransactionFailure = (from: string) => SmtpReply | null;
/** Decides about a fully received message; a reply rejects it (it is then not recorded). */
export type DataHandler = (message: ReceivedMessage) => SmtpReply | null | void;
/** A delay chosen per message by its envelope recipients (see setDelay). */
export type DelayFor = (to: string[]) => number;
/** Decides a new connection's greeting by its number (1 for the sink's first): a refusal, `hold` (no greeting ever), or null to greet. */
export type ConnectHandler = (connection: number) => SmtpReply | 'hold' | null;

export interface SmtpSinkOptions {
  failWith?: RecipientFailure;
  failTransaction?: TransactionFailure;
  onData?: DataHandler;
  /**
   * Offer STARTTLS, with smtp-server's built-in self-signed localhost certificate. 'broken'
   * offers it but only allows TLS 1.0, which current clients refuse, so every handshake fails.
   */
  starttls?: boolean | 'broken';
  /** Close connections idle for this long (smtp-server default: 60 s). */
  socketTimeoutMs?: number;
  /** Wait this long after a message's data before answering it (see setDelay). */
  delayMs?: number;
}

export interface SmtpSink {
  port: number;
  host: '127.0.0.1';
  /** Accepted messages, oldest first. Tests may empty it with `messages.length = 0`. */
  messages: ReceivedMessage[];
  /** Number of SMTP connections accepted so far. */
  readonly connections: number;
  /** Resolves once at least `n` messages are in `messages` (default timeout 5 s). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  setFailure(fn: RecipientFailure | null): void;
  setTransactionFailure(fn: TransactionFailure | null): void;
  setDataHandler(fn: DataHandler | null): void;
  /**
   * Makes the server slow: each message is answered (and recorded) this many ms after its data
   * arrived. Like a real MTA that commits before replying, a message is kept even if the client
   * is gone by then.
   */
  setDelay(ms: number | DelayFor): void;
  setConnectHandler(fn: ConnectHandler | null): void;
  close(): Promise<void>;
}

function smtpError(reply: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMessage[] = [];
  let recipientFailure: RecipientFailure | null = opts.failWith ?? null;
  let transactionFailure: TransactionFailure | null = opts.failTransaction ?? null;
  let dataHandler: DataHandler | null = opts.onData ?? null;
  let delayMs: number | DelayFor = opts.delayMs ?? 0;
  let connections = 0;
  let connectHandler: ConnectHandler | null = null;
  const waiters = new Set<() => void>();

  /** Reads one message and decides its fate; a reply means it was refused. */
  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<SmtpReply | null> {
    // Envelope first: the session is reset for the next transaction once we answer.
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const to = session.envelope.rcptTo.map((rcpt) => rcpt.address);
    const raw = await readAll(stream);
    const delay = typeof delayMs === 'number' ? delayMs : delayMs(to);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const message: ReceivedMessage = {
      from,
      to,
      raw,
      receivedAt: Date.now(),
      secure: session.secure,
      user: typeof session.user === 'string' ? session.user : null,
      heloName: session.hostNameAppearsAs,
    };
    const reply = dataHandler?.(message) ?? null;
    if (reply) return reply;
    messages.push(message);
    for (const wake of waiters) wake();
    return null;
  }

  const server = new SMTPServer({
    name: 'sink.test',
    logger: false,
    authOptional: true,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: opts.starttls ? [] : ['STARTTLS'],
    ...(opts.starttls === 'broken' ? { minVersion: 'TLSv1', maxVersion: 'TLSv1' } : {}),
    ...(opts.socketTimeoutMs !== undefined ? { socketTimeout: opts.socketTimeoutMs } : {}),
    disableReverseLookup: true,
    maxAllowedUnauthenticatedCommands: false,
    // Pooled clients may still be connected when a test ends; do not hold close() for 30 s.
    closeTimeout: 200,
    onConnect(_session, callback) {
      connections++;
      const decision = connectHandler?.(connections) ?? null;
      if (decision === 'hold') return; // the client waits for a greeting until its own timeout
      callback(decision ? smtpError(decision) : null);
    },
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onMailFrom(address, _session, callback) {
      const reply = transactionFailure?.(address.address) ?? null;
      callback(reply ? smtpError(reply) : null);
    },
    onRcptTo(address, _session, callback) {
      const reply = recipientFailure?.(address.address) ?? null;
      callback(reply ? smtpError(reply) : null);
    },
    onData(stream, session: SMTPServerSession, callback) {
      receive(stream, session).then(
        (reply) => callback(reply ? smtpError(reply) : null),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  // Errors of single client connections (resets, TLS failures) are part of what tests provoke.
  server.on('error', () => undefined);
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('SMTP sink did not get a TCP port');

  return {
    port: address.port,
    host: '127.0.0.1',
    messages,
    get connections() {
      return connections;
    },
    waitFor(n, timeoutMs = 5000) {
      if (messages.length >= n) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const wake = (): void => {
          if (messages.length < n) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(messages.slice());
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`SMTP sink: expected ${n} message(s) within ${timeoutMs} ms, got ${messages.length}`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    setFailure(fn) {
      recipientFailure = fn;
    },
    setTransactionFailure(fn) {
      transactionFailure = fn;
    },
    setDataHandler(fn) {
      dataHandler = fn;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    setConnectHandler(fn) {
      connectHandler = fn;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
