import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { RateLimiter } from '../http/rate-limiter.js';
import type { Logger } from '../logger.js';

/**
 * An SMTP listener that receives mail for a fixed set of domains and nothing else (the inbound role; README,
 * "Bounces and complaints"). No AUTH and no relaying: a recipient at any other domain is refused at RCPT with
 * 550, so the listener can never pass mail on. Every resource a client can hold is bounded: connections in
 * total and per address per minute, recipients per message, the message size (its data is read and counted,
 * never kept past the limit), idle time, and the time a message's handling may take.
 */

export interface InboundServerOptions {
  host: string;
  port: number;
  /** the name in the greeting and EHLO answer */
  name: string;
  maxBytes: number;
  maxConnections: number;
  connectionsPerMinute: number;
  socketTimeoutMs: number;
  /** whether mail for this domain is taken */
  acceptsDomain(domain: string): Promise<boolean>;
  /** handles one received message; a throw answers 451 so the sender tries again later */
  onMessage(message: { from: string; to: string[]; raw: Buffer; remoteAddress: string }): Promise<void>;
  log: Logger;
}

export interface InboundServer {
  port: number;
  close(): Promise<void>;
}

const MAX_RECIPIENTS = 50;
/** How long handling one message may take before the sender is told to try again. */
const HANDLE_TIMEOUT_MS = 30_000;

const reply = (code: number, message: string): Error & { responseCode: number } => Object.assign(new Error(message), { responseCode: code });

/** Reads the data, keeping at most `max` bytes; the rest is read (the client must be able to finish) and dropped. */
function readBounded(stream: SMTPServerDataStream, max: number): Promise<{ raw: Buffer; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) tooLarge = true;
      else chunks.push(chunk);
    });
    stream.on('end', () => resolve({ raw: Buffer.concat(chunks), tooLarge: tooLarge || stream.sizeExceeded }));
    stream.on('error', reject);
  });
}

export async function startInboundServer(o: InboundServerOptions): Promise<InboundServer> {
  const perAddress = new RateLimiter(60_000);
  const handle = async (stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> => {
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const to = session.envelope.rcptTo.map((r) => r.address);
    const { raw, tooLarge } = await readBounded(stream, o.maxBytes);
    if (tooLarge) throw reply(552, `5.3.4 Message exceeds the ${o.maxBytes}-byte limit`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('handling timed out')), HANDLE_TIMEOUT_MS);
    });
    try {
      await Promise.race([o.onMessage({ from, to, raw, remoteAddress: session.remoteAddress }), timeout]);
    } catch (err) {
      o.log.error({ err, remoteAddress: session.remoteAddress }, 'inbound message not handled; the sender will retry');
      throw reply(451, '4.3.0 Temporary failure, try again later');
    } finally {
      clearTimeout(timer);
    }
  };

  const server = new SMTPServer({
    name: o.name,
    banner: 'bounce and complaint reports only',
    logger: false,
    authOptional: true,
    // no credentials are ever taken, and no certificate is configured for STARTTLS
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    size: o.maxBytes,
    maxClients: o.maxConnections,
    socketTimeout: o.socketTimeoutMs,
    closeTimeout: 1000,
    onConnect(session, callback) {
      const decision = perAddress.check(session.remoteAddress, o.connectionsPerMinute);
      callback(decision.allowed ? null : reply(421, '4.7.0 Too many connections from your address, try again later'));
    },
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(reply(452, '4.5.3 Too many recipients'));
      const addr = address.address;
      const at = addr.lastIndexOf('@');
      if (addr.length > 320 || at < 1) return callback(reply(550, '5.1.1 No such mailbox here'));
      o.acceptsDomain(addr.slice(at + 1)).then(
        (ok) => callback(ok ? null : reply(550, '5.7.1 Relaying denied: this server takes mail only for its own return-path domains')),
        (err: unknown) => {
          o.log.error({ err }, 'inbound recipient check failed');
          callback(reply(451, '4.3.0 Temporary failure, try again later'));
        },
      );
    },
    onData(stream, session, callback) {
      handle(stream, session).then(
        () => callback(null),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  // a client's reset or garbage is its own problem; the listener keeps serving
  server.on('error', (err) => o.log.debug({ err }, 'inbound SMTP connection error'));

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
