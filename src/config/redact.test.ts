import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { redactSecrets, redactUrlPasswords } from './redact.js';

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a configuration error');
}

describe('secrets in configuration errors', () => {
  it('names each bad URL setting with its password hidden, and never prints SECRET_KEY', () => {
    const message = problemsOf({
      DATABASE_URL: 'mysql://keplars:db-Pa55word@db.internal/keplars',
      SMTP_URL: 'http://relay-user:smtp-Pa55word@relay.example:587',
      REGION_US_EAST_1_SMTP_URL: 'ftp://region:region-Pa55word@relay.example',
      SECRET_KEY: 'my-Secret-Key-Text-that-is-not-32-bytes',
    });
    expect(message).toContain('DATABASE_URL="mysql://keplars:***@db.internal/keplars": must be a postgres:// or postgresql:// URL');
    expect(message).toContain('SMTP_URL="http://relay-user:***@relay.example:587"');
    expect(message).toContain('REGION_US_EAST_1_SMTP_URL="ftp://region:***@relay.example"');
    expect(message).toContain('SECRET_KEY: must be 32 random bytes');
    for (const secret of ['db-Pa55word', 'smtp-Pa55word', 'region-Pa55word', 'my-Secret-Key-Text']) expect(message).not.toContain(secret);
  });

  it('refuses a postgres URL that does not parse (pg would fail later, quoting less helpfully), password hidden', () => {
    const message = problemsOf({ DATABASE_URL: 'postgres://keplars:pa/ss@word@[::1/keplars' });
    expect(message).toContain('DATABASE_URL="postgres://keplars:***@[::1/keplars"');
    expect(message).not.toContain('pa/ss');
  });

  it('hides passwords holding unencoded / or @ and leaves URLs without one alone', () => {
    expect(redactUrlPasswords('smtp://u:p@ss/w@rd@relay:25 and postgres://u@h/db, http://h:8080/a')).toBe('smtp://u:***@relay:25 and postgres://u@h/db, http://h:8080/a');
    expect(redactUrlPasswords('x'.repeat(100_000))).toHaveLength(100_000);
  });

  it('hides the credentials of a URL setting mistyped without "://"', () => {
    expect(problemsOf({ SMTP_URL: 'smtps//relay:smtp-Pa55word@relay.example:465' })).toContain('SMTP_URL="***@relay.example:465"');
  });

  it('redacts secrets of the environment that a library copied into an error', () => {
    const env = { DATABASE_URL: 'postgres://u:s%40cret-pw@h/db', SECRET_KEY: 'abcdefabcdefabcdef', OTHER: 'plain' };
    expect(redactSecrets('failed: s@cret-pw / s%40cret-pw / key abcdefabcdefabcdef / plain', env)).toBe('failed: [redacted] / [redacted] / key [redacted] / plain');
  });
});

describe('TRUST_PROXY', () => {
  it('takes true, false, a hop count, or a list of addresses and ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,::1, fd00::/8,loopback' }).trustProxy).toEqual(['10.0.0.0/8', '192.0.2.7', '::1', 'fd00::/8', 'loopback']);
  });

  it('names what is not usable', () => {
    expect(problemsOf({ TRUST_PROXY: '10.0.0.0/33,proxy.internal' })).toContain('TRUST_PROXY="10.0.0.0/33,proxy.internal": expected true, false, a hop count, or a comma list of addresses and CIDR ranges (or loopback, linklocal, uniquelocal); not usable: "10.0.0.0/33", "proxy.internal"');
    expect(problemsOf({ TRUST_PROXY: '1000' })).toContain('a hop count is at most 64');
  });
});
