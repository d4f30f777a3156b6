import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('settings of domain verification, workspace caps and outbound safety', () => {
  it('has generous but finite defaults, and safe ones', () => {
    const c = loadConfig({});
    expect(c.domains.verifyTimeoutMs).toBe(20_000);
    expect(c.domains.maxDomainsPerWorkspace).toBe(100);
    expect(c.maxSendingKeysPerWorkspace).toBe(100);
    expect(c.mxAllowPrivateAddresses).toBe(false);
    expect(c.smtpAllowInsecureAuth).toBe(false);
  });

  it('reads them', () => {
    const c = loadConfig({ DOMAIN_VERIFY_TIMEOUT_MS: '5000', MAX_DOMAINS_PER_WORKSPACE: '3', MAX_SENDING_KEYS_PER_WORKSPACE: '7', MX_ALLOW_PRIVATE_ADDRESSES: 'true', SMTP_ALLOW_INSECURE_AUTH: '1' });
    expect([c.domains.verifyTimeoutMs, c.domains.maxDomainsPerWorkspace, c.maxSendingKeysPerWorkspace, c.mxAllowPrivateAddresses, c.smtpAllowInsecureAuth]).toEqual([5000, 3, 7, true, true]);
    expect(loadConfig({ MX_ALLOW_PRIVATE_ADDRESSES: 'no' }).mxAllowPrivateAddresses).toBe(false);
  });

  it('refuses bad values, naming the variable', () => {
    const bad = { DOMAIN_VERIFY_TIMEOUT_MS: '0', MAX_DOMAINS_PER_WORKSPACE: '-1', MAX_SENDING_KEYS_PER_WORKSPACE: 'lots', MX_ALLOW_PRIVATE_ADDRESSES: 'maybe', SMTP_ALLOW_INSECURE_AUTH: 'sure' };
    let error: unknown;
    try {
      loadConfig(bad);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of Object.keys(bad)) expect(problems).toContain(name);
  });
});

describe('the background share while instant mail flows', () => {
  it('is a tenth by default, reads a fraction up to 1, and refuses 0, more than 1 and words', () => {
    expect(loadConfig({}).backgroundShare).toBe(0.1);
    expect(loadConfig({ BACKGROUND_SHARE: '0.5' }).backgroundShare).toBe(0.5);
    expect(loadConfig({ BACKGROUND_SHARE: '1' }).backgroundShare).toBe(1);
    for (const value of ['0', '1.5', '-0.2', 'half']) expect(() => loadConfig({ BACKGROUND_SHARE: value })).toThrow(/BACKGROUND_SHARE/);
  });
});
