import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('custom domain settings', () => {
  it('has defaults that need no set-up', () => {
    const d = loadConfig({}).domains;
    expect(d).toMatchObject({ secretKey: null, dkimSelector: 'keplars', mailFromSubdomain: 'bounces', bounceHost: 'localhost', dmarcReportEmail: null });
    expect(d.signingThreads).toBeGreaterThanOrEqual(1);
    expect(d.regions['us-east-1']).toEqual({ deliveryMode: 'capture', smtpUrl: null, spfMechanisms: ['ip4:127.0.0.1'], dedicated: false });
  });

  it('authorises the relay in SPF, or this server for direct delivery, unless told otherwise', () => {
    expect(loadConfig({ SMTP_URL: 'smtp://u:p@relay.example.net:587' }).domains.regions['us-east-1'].spfMechanisms).toEqual(['a:relay.example.net']);
    expect(loadConfig({ DELIVERY_MODE: 'mx', HELO_NAME: 'mta.example.net' }).domains.regions['ap-southeast-1'].spfMechanisms).toEqual(['a:mta.example.net']);
    const custom = loadConfig({ SMTP_URL: 'smtp://relay.example.net', SPF_MECHANISMS: 'ip4:203.0.113.7 include:_spf.relay.example.net' }).domains;
    expect(custom.regions['af-south-1'].spfMechanisms).toEqual(['ip4:203.0.113.7', 'include:_spf.relay.example.net']);
    expect(loadConfig({ HELO_NAME: 'mta.example.net' }).domains.bounceHost).toBe('mta.example.net');
  });

  it('gives a region its own relay and SPF when configured, sharing the global ones otherwise', () => {
    const d = loadConfig({ SMTP_URL: 'smtp://relay.example.net', REGION_AF_SOUTH_1_SMTP_URL: 'smtps://203.0.113.9:465', REGION_AP_SOUTHEAST_1_DELIVERY_MODE: 'mx', HELO_NAME: 'mta.example.net' }).domains;
    expect(d.regions['us-east-1']).toMatchObject({ deliveryMode: 'smtp', dedicated: false, spfMechanisms: ['a:relay.example.net'] });
    expect(d.regions['af-south-1']).toMatchObject({ deliveryMode: 'smtp', smtpUrl: 'smtps://203.0.113.9:465', dedicated: true, spfMechanisms: ['ip4:203.0.113.9'] });
    expect(d.regions['ap-southeast-1']).toMatchObject({ deliveryMode: 'mx', smtpUrl: null, dedicated: true, spfMechanisms: ['a:mta.example.net'] });
  });

  it('names the variable of every bad value, and never echoes a secret key', () => {
    const secret = 'not-a-key-but-secret-looking';
    const problems = problemsOf({ SECRET_KEY: secret, SPF_MECHANISMS: 'ip4:999.1.1.1 ~all', DKIM_SELECTOR: 'bad selector', REGION_US_EAST_1_DELIVERY_MODE: 'smtp', DKIM_SIGNING_THREADS: '-1' });
    expect(problems.join('\n')).not.toContain(secret);
    for (const name of ['SECRET_KEY', 'SPF_MECHANISMS', 'DKIM_SELECTOR', 'REGION_US_EAST_1_DELIVERY_MODE', 'DKIM_SIGNING_THREADS']) {
      expect(problems.some((p) => p.startsWith(name)), name).toBe(true);
    }
    expect(loadConfig({ SECRET_KEY: 'ab'.repeat(32) }).domains.secretKey).toHaveLength(32);
  });
});
