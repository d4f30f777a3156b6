import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('logging and metrics settings', () => {
  it('LOG_FORMAT is json or pretty, by default pretty on a terminal and json otherwise', () => {
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({}).logFormat).toBe(process.stdout.isTTY ? 'pretty' : 'json');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT="xml"/);
  });

  it('METRICS_TOKEN is unset by default, at least 16 characters, and never quoted back', () => {
    expect(loadConfig({}).metricsToken).toBeNull();
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-token' }).metricsToken).toBe('a-long-enough-token');
    let message = '';
    try {
      loadConfig({ METRICS_TOKEN: 'short-tok' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('METRICS_TOKEN=[redacted]: must be at least 16 characters');
    expect(message).not.toContain('short-tok');
  });
});
