import { describe, expect, it } from 'vitest';
import { classifySmtpError, isRefusedTransaction, replyCodeOf, statusForReplyCode } from './smtp-errors.js';

function smtpError(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'smtp error')), fields);
}

describe('statusForReplyCode', () => {
  it('maps reply classes to outcomes', () => {
    expect(statusForReplyCode(250)).toBe('accepted');
    expect(statusForReplyCode(421)).toBe('deferred');
    expect(statusForReplyCode(451)).toBe('deferred');
    expect(statusForReplyCode(550)).toBe('bounced');
    expect(statusForReplyCode(554)).toBe('bounced');
  });
});

describe('replyCodeOf', () => {
  it('reads the code of single and multi-line replies', () => {
    expect(replyCodeOf('250 2.0.0 Ok: queued as 1234')).toBe(250);
    expect(replyCodeOf('550-5.1.1 first line\r\n550 5.1.1 last line')).toBe(550);
    expect(replyCodeOf('421')).toBe(421);
    expect(replyCodeOf('Connection closed')).toBeNull();
  });
});

describe('classifySmtpError', () => {
  it('treats 5xx replies as permanent and keeps the server text', () => {
    const err = smtpError({ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 No such user', message: 'Recipient command failed: 550 5.1.1 No such user' });
    expect(classifySmtpError(err)).toEqual({ status: 'bounced', code: 550, response: '550 5.1.1 No such user' });
  });

  it('treats 4xx replies as temporary', () => {
    expect(classifySmtpError(smtpError({ code: 'EENVELOPE', responseCode: 451, response: '451 try later' }))).toEqual({
      status: 'deferred',
      code: 451,
      response: '451 try later',
    });
    expect(classifySmtpError(smtpError({ code: 'EMESSAGE', response: '421 shutting down' })).status).toBe('deferred');
  });

  it('treats network, DNS and TLS failures as temporary', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKET', 'ECONNECTION', 'EDNS', 'ENOTFOUND', 'EAI_AGAIN', 'ETLS', 'DEPTH_ZERO_SELF_SIGNED_CERT']) {
      const result = classifySmtpError(smtpError({ code, message: `failure ${code}` }));
      expect(result, code).toEqual({ status: 'deferred', code: null, response: `failure ${code}` });
    }
  });

  it('keeps mail queued when authentication to the relay fails, even on a 5xx', () => {
    expect(classifySmtpError(smtpError({ code: 'EAUTH', responseCode: 535, response: '535 bad credentials' })).status).toBe('deferred');
  });

  it('treats a message the server can never take as permanent without a reply', () => {
    expect(classifySmtpError(smtpError({ code: 'EMESSAGE', message: 'Message size larger than allowed 1000' })).status).toBe('bounced');
  });

  it('defaults to temporary for anything unrecognised', () => {
    expect(classifySmtpError(new Error('something odd'))).toEqual({ status: 'deferred', code: null, response: 'something odd' });
    expect(classifySmtpError('string thrown')).toEqual({ status: 'deferred', code: null, response: 'string thrown' });
    expect(classifySmtpError(undefined).status).toBe('deferred');
  });
});

describe('isRefusedTransaction', () => {
  const smtpError = (code: string, responseCode?: number) => Object.assign(new Error('refused'), { code, ...(responseCode !== undefined ? { responseCode } : {}) });

  it('is true for a sender, recipients or message the server refused, and for an envelope refused before sending', () => {
    expect(isRefusedTransaction(smtpError('EENVELOPE', 550))).toBe(true);
    expect(isRefusedTransaction(smtpError('EMESSAGE', 554))).toBe(true);
    expect(isRefusedTransaction(smtpError('EENVELOPE', 452))).toBe(true);
    expect(isRefusedTransaction(smtpError('EMESSAGE'))).toBe(true);
  });

  it('is false when the server closes the session (421) and for failures of the connection itself', () => {
    expect(isRefusedTransaction(smtpError('EENVELOPE', 421))).toBe(false);
    expect(isRefusedTransaction(smtpError('ECONNECTION'))).toBe(false);
    expect(isRefusedTransaction(smtpError('ETIMEDOUT'))).toBe(false);
    expect(isRefusedTransaction(smtpError('EPROTOCOL', 500))).toBe(false);
    expect(isRefusedTransaction(new Error('no code'))).toBe(false);
  });
});
