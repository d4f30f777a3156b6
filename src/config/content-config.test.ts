import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('content settings', () => {
  it('has defaults for small machines', () => {
    expect(loadConfig({}).content).toEqual({ threads: 2, threadMemoryMb: 256, templateMaxBytes: 262_144, templateDataMaxBytes: 524_288, renderMaxBytes: 5_242_880, renderTimeoutMs: 2000, compileTimeoutMs: 5000 });
  });

  it('reads every setting', () => {
    const env = { CONTENT_THREADS: '4', CONTENT_THREAD_MEMORY_MB: '512', TEMPLATE_MAX_BYTES: '65536', TEMPLATE_DATA_MAX_BYTES: '100000', TEMPLATE_RENDER_MAX_BYTES: '1048576', TEMPLATE_RENDER_TIMEOUT_MS: '500', TEMPLATE_COMPILE_TIMEOUT_MS: '9000' };
    expect(loadConfig(env).content).toEqual({ threads: 4, threadMemoryMb: 512, templateMaxBytes: 65536, templateDataMaxBytes: 100000, renderMaxBytes: 1048576, renderTimeoutMs: 500, compileTimeoutMs: 9000 });
  });

  it('names each bad setting', () => {
    let problems: string[] = [];
    try {
      loadConfig({ CONTENT_THREADS: '0', CONTENT_THREAD_MEMORY_MB: 'lots', TEMPLATE_RENDER_TIMEOUT_MS: '-1', TEMPLATE_MAX_BYTES: '5000000' });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems.map((p) => p.split('=')[0])).toEqual(['CONTENT_THREADS', 'CONTENT_THREAD_MEMORY_MB', 'TEMPLATE_MAX_BYTES', 'TEMPLATE_RENDER_TIMEOUT_MS']);
  });
});
