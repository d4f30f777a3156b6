import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('HTTP server settings', () => {
  it('have defaults that let a 60 MB body upload on a modest link', () => {
    const { http } = loadConfig({});
    expect(http).toEqual({
      headersTimeoutMs: 30_000,
      requestTimeoutMs: 300_000,
      idleTimeoutMs: 60_000,
      keepAliveTimeoutMs: 72_000,
      maxConnections: 1_000,
      sendBodyBudgetBytes: 64 * 1024 * 1024,
      sendBodyWaitMs: 10_000,
    });
    // 60 MB within the request timeout needs no more than 1.6 Mbit/s
    expect((60 * 8) / (http.requestTimeoutMs / 1000)).toBeLessThanOrEqual(1.6);
  });

  it('are read from the environment', () => {
    const { http } = loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '2000', HTTP_IDLE_TIMEOUT_MS: '900', HTTP_KEEP_ALIVE_TIMEOUT_MS: '400', HTTP_MAX_CONNECTIONS: '3', SEND_BODY_BUDGET_MB: '100', SEND_BODY_WAIT_MS: '0' });
    expect(http).toEqual({ headersTimeoutMs: 500, requestTimeoutMs: 2000, idleTimeoutMs: 900, keepAliveTimeoutMs: 400, maxConnections: 3, sendBodyBudgetBytes: 100 * 1024 * 1024, sendBodyWaitMs: 0 });
  });

  it('refuse bad values naming the variable', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
      return '';
    };
    expect(problems({ HTTP_HEADERS_TIMEOUT_MS: '60000', HTTP_REQUEST_TIMEOUT_MS: '30000' })).toContain('HTTP_HEADERS_TIMEOUT_MS=60000: must not exceed HTTP_REQUEST_TIMEOUT_MS');
    expect(problems({ SEND_BODY_BUDGET_MB: '10' })).toContain('SEND_BODY_BUDGET_MB="10"');
    expect(problems({ HTTP_MAX_CONNECTIONS: '0' })).toContain('HTTP_MAX_CONNECTIONS="0"');
    expect(problems({ HTTP_IDLE_TIMEOUT_MS: 'soon' })).toContain('HTTP_IDLE_TIMEOUT_MS="soon"');
  });
});
