import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP relay on 127.0.0.1 that requires nothing but records every AUTH it receives, and whether the
 * session was encrypted by then: what a client sent its credentials over. It takes AUTH over plain text too
 * (`allowInsecureAuth`), so any refusal to authenticate without TLS is the client's own.
 */
export interface AuthRelay {
  port: number;
  /** one entry per AUTH received */
  auths: { user: string; secure: boolean }[];
  /** messages accepted, with the user their session authenticated as */
  messages: { user: string | null; secure: boolean; to: string[] }[];
  close(): Promise<void>;
}

export async function startAuthRelay(opts: { tls: 'none' | 'starttls' | 'implicit' }): Promise<AuthRelay> {
  const auths: AuthRelay['auths'] = [];
  const messages: AuthRelay['messages'] = [];
  const server = new SMTPServer({
    name: 'relay.test',
    logger: false,
    // smtp-server's built-in self-signed certificate
    secure: opts.tls === 'implicit',
    disabledCommands: opts.tls === 'none' ? ['STARTTLS'] : [],
    authOptional: true,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    closeTimeout: 200,
    onAuth(auth, session, callback) {
      auths.push({ user: auth.username ?? '', secure: session.secure });
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        messages.push({ user: typeof session.user === 'string' ? session.user : null, secure: session.secure, to: session.envelope.rcptTo.map((r) => r.address) });
        callback(null);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('relay did not get a TCP port');
  return { port: address.port, auths, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
