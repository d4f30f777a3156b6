import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('DEFAULT_PLAN', () => {
  it('is FREE unless set, read without regard to case, and refused when it is no plan', () => {
    expect(loadConfig({}).defaultPlan).toBe('FREE');
    expect(loadConfig({ DEFAULT_PLAN: ' launch ' }).defaultPlan).toBe('LAUNCH');
    expect(() => loadConfig({ DEFAULT_PLAN: 'GOLD' })).toThrow(ConfigError);
    expect(() => loadConfig({ DEFAULT_PLAN: 'GOLD' })).toThrow('DEFAULT_PLAN="GOLD": must be one of FREE, LAUNCH, CUSTOM, ENTERPRISE');
  });
});
