import { describe, expect, it } from 'vitest';
import { captureLog } from '../../test/support/log-capture.js';

describe('log formats', () => {
  it('json: one JSON object per line with level, time, message and fields', () => {
    const log = captureLog('info', 'json');
    log.logger.info({ route: '/health', status: 200 }, 'request');
    log.logger.debug('not at info');
    const lines = log.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'request', route: '/health', status: 200 });
    expect(typeof lines[0]!.time).toBe('number');
  });

  it('pretty: a readable line with the level word and the message, fields below it, no JSON and no colour codes when not a terminal', () => {
    const log = captureLog('info', 'pretty');
    log.logger.warn({ relay: '127.0.0.1:2525' }, 'relay cannot be reached');
    const text = log.text();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN.*: relay cannot be reached\n/);
    expect(text).toContain('relay: "127.0.0.1:2525"');
    expect(text).not.toContain('{"level"');
    expect(text).not.toContain('\u001b[');
  });

  it('redacts secrets in both formats', () => {
    for (const format of ['json', 'pretty'] as const) {
      const log = captureLog('info', format);
      log.logger.info({ headers: { authorization: 'Bearer s3cr3t-a' }, key: { secret_key: 's3cr3t-b' }, password: 's3cr3t-c', dkim: { privateKeyPem: '-----BEGIN PRIVATE KEY-----' } }, 'm');
      const text = log.text();
      for (const s of ['s3cr3t-a', 's3cr3t-b', 's3cr3t-c', 'PRIVATE KEY']) expect(text, format).not.toContain(s);
      expect(text).toContain('[redacted]');
    }
  });
});
