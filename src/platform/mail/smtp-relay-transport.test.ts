import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAuthRelay, type AuthRelay } from '../../../test/support/auth-relay.js';
import { startSmtpSink, type SmtpSink } from '../../../test/support/smtp-sink.js';
import { createSmtpRelayTransport, parseSmtpUrl } from './smtp-relay-transport.js';
import type { Transport } from './types.js';

function message(subject: string): Buffer {
  return Buffer.from(
    `From: shop@example.test\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.test>\r\n\r\n` +
      'Hello Alice,\r\n.leading dot survives dot-stuffing\r\n\r\nBye\r\n',
  );
}

/** A port nothing listens on: bind, note it, close. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('parseSmtpUrl', () => {
  it('reads host, port, security and percent-encoded credentials', () => {
    expect(parseSmtpUrl('smtp://relay.example.test:2525')).toEqual({ secure: false, host: 'relay.example.test', port: 2525 });
    expect(parseSmtpUrl('smtps://us%40r:p%3Ass@relay.example.test')).toEqual({
      secure: true,
      host: 'relay.example.test',
      port: 465,
      auth: { user: 'us@r', pass: 'p:ss' },
    });
    expect(parseSmtpUrl('smtp://[::1]').port).toBe(587);
    expect(parseSmtpUrl('smtp://[::1]').host).toBe('::1');
  });

  it('rejects other schemes and garbage without echoing the password', () => {
    expect(() => parseSmtpUrl('http://user:hunter2@example.test')).toThrow(/smtp:\/\/ or smtps:\/\//);
    expect(() => parseSmtpUrl('not a url hunter2')).toThrow(/not a valid URL/);
    try {
      parseSmtpUrl('http://user:hunter2@example.test');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});

describe('SMTP relay transport', () => {
  let sink: SmtpSink;
  let transport: Transport;

  beforeAll(async () => {
    sink = await startSmtpSink();
    // the sink offers no TLS: credentials go out only because this opts out (see the TLS tests below)
    transport = createSmtpRelayTransport(`smtp://relay-user:s3cret@127.0.0.1:${sink.port}`, { maxConnections: 2, timeoutMs: 5000, allowInsecureAuth: true });
  });
  afterAll(async () => {
    await transport?.close();
    await sink?.close();
  });
  beforeEach(() => {
    sink.messages.length = 0;
    sink.setFailure(null);
    sink.setTransactionFailure(null);
    sink.setDataHandler(null);
  });

  it('delivers the exact bytes to the envelope recipients, authenticated', async () => {
    const raw = message('exact');
    const outcomes = await transport.send({ from: 'bounce@example.test', to: ['alice@example.test', 'bob@example.test'] }, raw);
    expect(outcomes).toEqual([
      { recipient: 'alice@example.test', status: 'accepted', code: 250, response: expect.stringMatching(/^250 /), host: '127.0.0.1' },
      { recipient: 'bob@example.test', status: 'accepted', code: 250, response: expect.stringMatching(/^250 /), host: '127.0.0.1' },
    ]);
    const [received] = await sink.waitFor(1);
    expect(received?.from).toBe('bounce@example.test');
    expect(received?.to).toEqual(['alice@example.test', 'bob@example.test']);
    expect(received?.raw.equals(raw)).toBe(true);
    expect(received?.user).toBe('relay-user');
  });

  it('sends the null sender as MAIL FROM:<>', async () => {
    const [outcome] = await transport.send({ from: '', to: ['alice@example.test'] }, message('bounce'));
    expect(outcome?.status).toBe('accepted');
    expect((await sink.waitFor(1))[0]?.from).toBe('');
  });

  it('fails only the recipient the server refuses permanently', async () => {
    sink.setFailure((rcpt) => (rcpt.startsWith('gone') ? { code: 550, message: 'No such user' } : null));
    const outcomes = await transport.send({ from: 'shop@example.test', to: ['gone@example.test', 'here@example.test'] }, message('partial'));
    expect(outcomes).toEqual([
      { recipient: 'gone@example.test', status: 'bounced', code: 550, response: '550 No such user', host: '127.0.0.1' },
      expect.objectContaining({ recipient: 'here@example.test', status: 'accepted', code: 250 }),
    ]);
    expect((await sink.waitFor(1))[0]?.to).toEqual(['here@example.test']);
  });

  it('keeps each recipient’s own reply when all of them are refused', async () => {
    sink.setFailure((rcpt) => (rcpt.startsWith('full') ? { code: 452, message: 'Mailbox full' } : { code: 550, message: 'No such user' }));
    const outcomes = await transport.send({ from: 'shop@example.test', to: ['full@example.test', 'gone@example.test'] }, message('refused'));
    expect(outcomes.map((o) => [o.recipient, o.status, o.code])).toEqual([
      ['full@example.test', 'deferred', 452],
      ['gone@example.test', 'bounced', 550],
    ]);
    expect(sink.messages).toHaveLength(0);
  });

  it('defers on a temporary recipient failure (451)', async () => {
    sink.setFailure(() => ({ code: 451, message: 'Try again later' }));
    const [outcome] = await transport.send({ from: 'shop@example.test', to: ['alice@example.test'] }, message('greylisted'));
    expect(outcome).toEqual({ recipient: 'alice@example.test', status: 'deferred', code: 451, response: '451 Try again later', host: '127.0.0.1' });
  });

  it('defers every recipient when the whole transaction is refused with 421, then recovers', async () => {
    sink.setTransactionFailure(() => ({ code: 421, message: 'Service not available' }));
    const outcomes = await transport.send({ from: 'shop@example.test', to: ['a@example.test', 'b@example.test'] }, message('busy'));
    expect(outcomes.map((o) => [o.status, o.code])).toEqual([
      ['deferred', 421],
      ['deferred', 421],
    ]);
    sink.setTransactionFailure(null);
    const [after] = await transport.send({ from: 'shop@example.test', to: ['a@example.test'] }, message('after-busy'));
    expect(after?.status).toBe('accepted');
  });

  it('fails every recipient when the message itself is refused with 554', async () => {
    sink.setDataHandler(() => ({ code: 554, message: 'Message rejected as spam' }));
    const outcomes = await transport.send({ from: 'shop@example.test', to: ['a@example.test', 'b@example.test'] }, message('spam'));
    expect(outcomes).toEqual([
      { recipient: 'a@example.test', status: 'bounced', code: 554, response: '554 Message rejected as spam', host: '127.0.0.1' },
      { recipient: 'b@example.test', status: 'bounced', code: 554, response: '554 Message rejected as spam', host: '127.0.0.1' },
    ]);
  });

  it('returns no outcomes for an empty recipient list', async () => {
    expect(await transport.send({ from: 'shop@example.test', to: [] }, message('nobody'))).toEqual([]);
  });

  describe('after a refusal', () => {
    /** Sends a refused message, then a good one, over a one-connection pool; returns the connections it opened. */
    async function refusedThenDelivered(refuse: () => void, expected: { status: string; code: number }): Promise<number> {
      const single = createSmtpRelayTransport(`smtp://127.0.0.1:${sink.port}`, { maxConnections: 1, timeoutMs: 5000 });
      const connectionsBefore = sink.connections;
      try {
        refuse();
        const [refused] = await single.send({ from: 'shop@example.test', to: ['gone@example.test'] }, message('refused-first'));
        expect(refused).toMatchObject(expected);
        sink.setFailure(null);
        sink.setTransactionFailure(null);
        sink.setDataHandler(null);
        const [next] = await single.send({ from: 'shop@example.test', to: ['here@example.test'] }, message('after-refusal'));
        expect(next?.status).toBe('accepted');
        expect((await sink.waitFor(1))[0]?.to).toEqual(['here@example.test']);
        return sink.connections - connectionsBefore;
      } finally {
        await single.close();
      }
    }

    it.each([
      ['every recipient', () => sink.setFailure(() => ({ code: 550, message: 'No such user' })), 550],
      ['the sender', () => sink.setTransactionFailure(() => ({ code: 553, message: 'Sender not allowed' })), 553],
      ['the message', () => sink.setDataHandler(() => ({ code: 554, message: 'Rejected as spam' })), 554],
    ])('keeps the connection when the server refuses %s (RSET, then the next message on it)', async (_what, refuse, code) => {
      expect(await refusedThenDelivered(refuse, { status: 'bounced', code })).toBe(1);
    });

    it('opens a new connection after a 421, with which the server closes the session', async () => {
      expect(await refusedThenDelivered(() => sink.setTransactionFailure(() => ({ code: 421, message: 'Closing' })), { status: 'deferred', code: 421 })).toBe(2);
    });
  });

  it('recycles a connection after maxMessages without failing any message', async () => {
    const recycling = createSmtpRelayTransport(`smtp://127.0.0.1:${sink.port}`, { maxConnections: 1, maxMessages: 3 });
    const connectionsBefore = sink.connections;
    try {
      for (let i = 0; i < 7; i++) {
        const [outcome] = await recycling.send({ from: 'shop@example.test', to: [`user${i}@example.test`] }, message(`recycle${i}`));
        expect(outcome?.status).toBe('accepted');
      }
      expect(sink.connections - connectionsBefore).toBe(3);
    } finally {
      await recycling.close();
    }
  });

  it('replaces a connection retired after maxMessages at once, so the next message finds one ready', async () => {
    const recycling = createSmtpRelayTransport(`smtp://127.0.0.1:${sink.port}`, { maxConnections: 1, maxMessages: 2 });
    const connectionsBefore = sink.connections;
    try {
      for (const subject of ['retire1', 'retire2']) expect((await recycling.send({ from: 'shop@example.test', to: ['a@example.test'] }, message(subject)))[0]?.status).toBe('accepted');
      // nothing is sent meanwhile: the replacement is opened because the first connection retired
      const deadline = Date.now() + 3000;
      while (sink.connections - connectionsBefore < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(sink.connections - connectionsBefore).toBe(2);
      expect((await recycling.send({ from: 'shop@example.test', to: ['a@example.test'] }, message('retire3')))[0]?.status).toBe('accepted');
      expect(sink.connections - connectionsBefore).toBe(2);
    } finally {
      await recycling.close();
    }
  });

  it.each([
    ['still waiting for its greeting', 'hold' as const],
    ['the relay refuses', { code: 421, message: 'Too many connections' }],
  ])('gives a message the first session free: one another message releases beats a new connection %s', async (_what, newConnection) => {
    const pool = createSmtpRelayTransport(`smtp://127.0.0.1:${sink.port}`, { maxConnections: 2, timeoutMs: 3000 });
    const connectionsBefore = sink.connections;
    try {
      expect((await pool.send({ from: 'shop@example.test', to: ['a@example.test'] }, message('warm')))[0]?.status).toBe('accepted');
      // the pool's one session is busy for 300 ms, and a second connection would never serve a message
      sink.setDelay(300);
      sink.setConnectHandler((n) => (n > connectionsBefore + 1 ? newConnection : null));
      const busy = pool.send({ from: 'shop@example.test', to: ['a@example.test'] }, message('busy'));
      const next = pool.send({ from: 'shop@example.test', to: ['b@example.test'] }, message('next'));
      const [[busyOutcome], [nextOutcome]] = await Promise.all([busy, next]);
      expect(busyOutcome?.status).toBe('accepted');
      expect(nextOutcome?.status).toBe('accepted');
      // the second connection was asked for (the pool may grow), but the message did not wait for it
      expect(sink.connections - connectionsBefore).toBe(2);
    } finally {
      sink.setDelay(0);
      sink.setConnectHandler(null);
      await pool.close();
    }
  });

  it('pushes 200 messages through one pooled connection quickly (TCP_NODELAY)', async () => {
    const single = createSmtpRelayTransport(`smtp://127.0.0.1:${sink.port}`, { maxConnections: 1, maxMessages: 1000 });
    const connectionsBefore = sink.connections;
    const raw = message('bulk');
    try {
      const started = Date.now();
      for (let i = 0; i < 200; i++) {
        const [outcome] = await single.send({ from: 'shop@example.test', to: [`user${i}@example.test`] }, raw);
        expect(outcome?.status).toBe('accepted');
      }
      const elapsed = Date.now() - started;
      expect(sink.messages).toHaveLength(200);
      expect(sink.connections - connectionsBefore).toBe(1);
      // With Nagle on this takes ~40 ms per message (≈8 s); with TCP_NODELAY well under 1 s.
      expect(elapsed).toBeLessThan(4000);
    } finally {
      await single.close();
    }
  });
});

describe('SMTP relay transport failures without a reply', () => {
  it('defers when the relay refuses the connection', async () => {
    const port = await closedPort();
    const transport = createSmtpRelayTransport(`smtp://127.0.0.1:${port}`, { timeoutMs: 2000 });
    try {
      const outcomes = await transport.send({ from: 'shop@example.test', to: ['a@example.test', 'b@example.test'] }, message('refused'));
      expect(outcomes).toEqual([
        { recipient: 'a@example.test', status: 'deferred', code: null, response: expect.stringContaining('ECONNREFUSED'), host: '127.0.0.1' },
        { recipient: 'b@example.test', status: 'deferred', code: null, response: expect.stringContaining('ECONNREFUSED'), host: '127.0.0.1' },
      ]);
      // the pool must not have lost its only slot: a second send fails the same way instead of hanging
      const [again] = await transport.send({ from: 'shop@example.test', to: ['a@example.test'] }, message('refused-again'));
      expect(again?.status).toBe('deferred');
    } finally {
      await transport.close();
    }
  });

  it('defers when the relay accepts the connection but never greets', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const transport = createSmtpRelayTransport(`smtp://127.0.0.1:${port}`, { timeoutMs: 300 });
    try {
      const started = Date.now();
      const [outcome] = await transport.send({ from: 'shop@example.test', to: ['a@example.test'] }, message('silent'));
      expect(outcome).toMatchObject({ status: 'deferred', code: null, host: '127.0.0.1' });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await transport.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('SMTP relay credentials are sent only over TLS', () => {
  const relays: AuthRelay[] = [];
  const transports: Transport[] = [];
  afterAll(async () => {
    for (const t of transports) await t.close();
    for (const r of relays) await r.close();
  });
  async function relay(tls: 'none' | 'starttls' | 'implicit'): Promise<AuthRelay> {
    const started = await startAuthRelay({ tls });
    relays.push(started);
    return started;
  }
  function relayTransport(url: string, opts: Parameters<typeof createSmtpRelayTransport>[1] = {}): Transport {
    const created = createSmtpRelayTransport(url, { maxConnections: 1, timeoutMs: 5000, ...opts });
    transports.push(created);
    return created;
  }

  it('withholds the credentials from a relay without STARTTLS: AUTH is never sent and the mail is deferred, saying why', async () => {
    const r = await relay('none');
    const told: string[] = [];
    const t = relayTransport(`smtp://relay-user:hunter2-secret@127.0.0.1:${r.port}`, { onCredentialsWithheld: (where) => told.push(where) });
    for (const subject of ['first', 'second']) {
      const [outcome] = await t.send({ from: 'shop@example.test', to: ['alice@example.test'] }, message(subject));
      expect(outcome).toMatchObject({ status: 'deferred', code: null, host: '127.0.0.1' });
      expect(outcome!.response).toContain('credentials not sent: the server offered no TLS');
      expect(outcome!.response).not.toContain('hunter2');
    }
    expect(r.auths).toEqual([]);
    expect(r.messages).toEqual([]);
    expect(told).toEqual([`127.0.0.1:${r.port}`]); // once, however many messages wait
  });

  it('sends them in clear text only when the operator opts out', async () => {
    const r = await relay('none');
    const t = relayTransport(`smtp://relay-user:pw@127.0.0.1:${r.port}`, { allowInsecureAuth: true });
    const [outcome] = await t.send({ from: 'shop@example.test', to: ['alice@example.test'] }, message('opted-out'));
    expect(outcome?.status).toBe('accepted');
    expect(r.auths).toEqual([{ user: 'relay-user', secure: false }]);
  });

  it('authenticates after STARTTLS when the relay offers it', async () => {
    const r = await relay('starttls');
    // the relay's certificate is self-signed; certificate checks are what the next test is about
    const t = relayTransport(`smtp://relay-user:pw@127.0.0.1:${r.port}`, { tls: { rejectUnauthorized: false } });
    const [outcome] = await t.send({ from: 'shop@example.test', to: ['alice@example.test'] }, message('starttls'));
    expect(outcome?.status).toBe('accepted');
    expect(r.auths).toEqual([{ user: 'relay-user', secure: true }]);
    expect(r.messages).toEqual([{ user: 'relay-user', secure: true, to: ['alice@example.test'] }]);
  });

  it('does not fall back to plain text when STARTTLS fails (an untrusted certificate): nothing is sent', async () => {
    const r = await relay('starttls');
    const t = relayTransport(`smtp://relay-user:pw@127.0.0.1:${r.port}`);
    const [outcome] = await t.send({ from: 'shop@example.test', to: ['alice@example.test'] }, message('bad-cert'));
    expect(outcome).toMatchObject({ status: 'deferred', code: null });
    expect(outcome!.response).toContain('STARTTLS negotiation failed');
    expect(r.auths).toEqual([]);
  });

  it('authenticates over smtps:// (TLS from the first byte)', async () => {
    const r = await relay('implicit');
    const t = relayTransport(`smtps://relay-user:pw@127.0.0.1:${r.port}`, { tls: { rejectUnauthorized: false } });
    const [outcome] = await t.send({ from: 'shop@example.test', to: ['alice@example.test'] }, message('smtps'));
    expect(outcome?.status).toBe('accepted');
    expect(r.auths).toEqual([{ user: 'relay-user', secure: true }]);
  });

  it('needs no TLS without credentials', async () => {
    const r = await relay('none');
    const [outcome] = await relayTransport(`smtp://127.0.0.1:${r.port}`).send({ from: 'shop@example.test', to: ['alice@example.test'] }, message('anonymous'));
    expect(outcome?.status).toBe('accepted');
    expect(r.messages).toEqual([{ user: null, secure: false, to: ['alice@example.test'] }]);
  });
});
