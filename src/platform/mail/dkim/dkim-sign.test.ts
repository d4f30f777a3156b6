import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { composeMessage } from '../compose.js';
import type { MailContent } from '../types.js';
import { dkimRecordValue, generateDkimKeyPair, parseDkimRecord } from './dkim-keys.js';
import { dkimSign, dkimSignatureHeader, privateKeyFromPem, relaxedBody, type DkimSigningKey } from './dkim-sign.js';

describe('DKIM signing', () => {
  let key: DkimSigningKey;
  let record: string;

  beforeAll(async () => {
    const pair = await generateDkimKeyPair();
    key = { domain: 'example.test', selector: 'keplars', privateKey: privateKeyFromPem(pair.privateKeyPem) };
    record = dkimRecordValue(pair.publicKey);
  });

  /** mailauth verifying against a DNS that serves exactly our record. */
  const verify = async (raw: Buffer) => {
    const resolver = async (name: string, type: string) => {
      if (type === 'TXT' && name === 'keplars._domainkey.example.test') return [[record.slice(0, 200), record.slice(200)]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    const result = await dkimVerify(raw, { resolver });
    return result.results;
  };

  const content = (over: Partial<MailContent> = {}): MailContent => ({
    messageId: '<msg_1@mail.example.test>',
    date: new Date('2026-01-02T03:04:05Z'),
    from: { email: 'shop@example.test', name: 'Shöp “quoted”' },
    to: [{ email: 'a@example.org' }, { email: 'b@example.org', name: 'Bee' }],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: 'Grüße 👋 — a subject long enough to be folded by the composer across more than one header line',
    html: '<h1>Hello</h1>\n<p>Trailing   spaces   \t</p>\n\n\n',
    headers: {},
    attachments: [],
    ...over,
  });

  it('produces signatures an independent verifier accepts, for every kind of message we compose', async () => {
    const shapes: MailContent[] = [
      content(),
      content({ html: undefined, text: 'plain text only\r\n\r\n\r\n' }),
      content({ cc: [{ email: 'c@example.org' }], replyTo: [{ email: 'help@example.test' }], headers: { 'X-Campaign': 'spring   sale' } }),
      content({ attachments: [{ filename: 'hello.txt', content: Buffer.from('hello file').toString('base64'), contentType: 'text/plain' }] }),
      content({ html: '<img src="cid:logo">', attachments: [{ filename: 'logo.png', content: Buffer.alloc(3000, 7).toString('base64'), contentId: 'logo' }] }),
      content({ html: '', text: '' }),
    ];
    for (const shape of shapes) {
      const raw = await composeMessage(shape);
      const results = await verify(dkimSign(raw, key));
      expect(results).toHaveLength(1);
      expect(results[0]!.status.result, results[0]!.info).toBe('pass');
      expect(results[0]!.signingDomain).toBe('example.test');
    }
  });

  it('signs From, To, Subject, Date, Message-ID and the MIME headers, plus Cc and Reply-To when present', async () => {
    const plain = dkimSignatureHeader(await composeMessage(content()), key);
    expect(plain).toMatch(/h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;/);
    expect(plain.replace(/\r\n /g, ' ')).toMatch(/a=rsa-sha256; c=relaxed\/relaxed; d=example\.test; s=keplars;/);
    const withCc = dkimSignatureHeader(await composeMessage(content({ cc: [{ email: 'c@example.org' }], replyTo: [{ email: 'r@example.test' }] })), key);
    expect(withCc.replace(/\r\n /g, ' ')).toMatch(/h=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type:Cc:Reply-To;/);
    for (const line of plain.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
  });

  it('fails verification when a signed header or the body is changed afterwards', async () => {
    const signed = dkimSign(await composeMessage(content()), key).toString('latin1');
    const tamperedSubject = Buffer.from(signed.replace(/^Subject: .*$/m, 'Subject: changed'), 'latin1');
    expect((await verify(tamperedSubject))[0]!.status.result).toBe('fail');
    const tamperedBody = Buffer.from(signed.replace('Hello', 'Jello'), 'latin1');
    expect((await verify(tamperedBody))[0]!.status.result).not.toBe('pass');
  });

  it('canonicalizes bodies as RFC 6376 relaxed says', () => {
    expect(relaxedBody('')).toBe('');
    expect(relaxedBody('\r\n\r\n')).toBe('');
    expect(relaxedBody('a  b \t\r\nc\r\n\r\n\r\n')).toBe('a b\r\nc\r\n');
    expect(relaxedBody('no final newline ')).toBe('no final newline\r\n');
  });

  it('publishes the public key in a DKIM1 record that parses back', () => {
    const tags = parseDkimRecord(record);
    expect(tags).toMatchObject({ v: 'DKIM1', k: 'rsa' });
    expect(tags.p).toMatch(/^MIIB[A-Za-z0-9+/=]+$/);
  });
});
