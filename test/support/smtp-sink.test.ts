import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';

/** Runs a scripted plain SMTP dialogue and returns every server reply line. */
async function dialogue(port: number, commands: string[]): Promise<string[]> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setEncoding('utf8');
  const lines: string[] = [];
  let buffer = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let index: number;
    while ((index = buffer.indexOf('\r\n')) !== -1) {
      const line = buffer.slice(0, index);
      buffer = buffer.slice(index + 2);
      lines.push(line);
      // a final reply line has a space after the code
      if (/^\d{3} /.test(line)) waiters.shift()?.();
    }
  });
  const reply = () => new Promise<void>((resolve) => waiters.push(resolve));
  await reply(); // greeting
  for (const command of commands) {
    const next = reply();
    socket.write(`${command}\r\n`);
    await next;
  }
  socket.destroy();
  return lines;
}

describe('SMTP sink', () => {
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink({ failWith: (rcpt) => (rcpt === 'no@example.test' ? { code: 550, message: 'Nope' } : null) });
  });
  afterAll(async () => {
    await sink?.close();
  });

  it('listens on 127.0.0.1 and records what it accepts', async () => {
    expect(sink.host).toBe('127.0.0.1');
    const lines = await dialogue(sink.port, [
      'EHLO client.test',
      'AUTH PLAIN ' + Buffer.from('\0anyone\0anything').toString('base64'),
      'MAIL FROM:<a@example.test>',
      'RCPT TO:<no@example.test>',
      'RCPT TO:<yes@example.test>',
      'DATA',
      'Subject: hi\r\n\r\nbody\r\n.',
    ]);
    expect(lines).toContain('235 Authentication successful');
    expect(lines).toContain('550 Nope');
    const [message] = await sink.waitFor(1);
    expect(message).toMatchObject({ from: 'a@example.test', to: ['yes@example.test'], user: 'anyone', heloName: 'client.test', secure: false });
    expect(message?.raw.toString()).toBe('Subject: hi\r\n\r\nbody\r\n');
  });

  it('does not offer STARTTLS unless asked to', async () => {
    const lines = await dialogue(sink.port, ['EHLO client.test']);
    expect(lines.some((line) => line.includes('STARTTLS'))).toBe(false);
    expect(lines.some((line) => line.includes('AUTH PLAIN LOGIN'))).toBe(true);
  });

  it('answers messages late when slowed down with setDelay', async () => {
    sink.messages.length = 0;
    sink.setDelay(150);
    try {
      const started = Date.now();
      const lines = await dialogue(sink.port, ['HELO client.test', 'MAIL FROM:<a@example.test>', 'RCPT TO:<yes@example.test>', 'DATA', 'Subject: slow\r\n\r\nx\r\n.']);
      expect(lines.at(-1)).toMatch(/^250 /);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(sink.messages).toHaveLength(1);
    } finally {
      sink.setDelay(0);
    }
  });

  it('rejects waitFor after the timeout, saying how many arrived', async () => {
    await expect(sink.waitFor(99, 50)).rejects.toThrow(/expected 99 message\(s\) within 50 ms, got \d+/);
  });
});
