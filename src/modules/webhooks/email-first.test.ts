import { describe, expect, it } from 'vitest';
import { EmailFirstGate, IDLE_AFTER_MS } from './email-first.js';

function gate(maxDeferMs: number) {
  let now = 1_000_000;
  let busy = false;
  const g = new EmailFirstGate(() => busy, maxDeferMs, () => now);
  return {
    at: (ms: number, delivering: boolean) => {
      now = 1_000_000 + ms;
      busy = delivering;
      return g.sample();
    },
  };
}

describe('email goes first: the pace of webhook work while a worker delivers email', () => {
  it('is full while no email is in flight', () => {
    const g = gate(10_000);
    expect(g.at(0, false)).toBe('full');
    expect(g.at(5_000, false)).toBe('full');
  });

  it('defers webhooks while a burst of email goes out, then shares once email has gone on past the limit', () => {
    const g = gate(10_000);
    expect(g.at(0, true)).toBe('defer');
    expect(g.at(9_999, true)).toBe('defer');
    expect(g.at(10_000, true)).toBe('share');
    expect(g.at(60_000, true)).toBe('share');
  });

  it('does not count a moment between claims as the end of the burst', () => {
    const g = gate(10_000);
    g.at(0, true);
    expect(g.at(IDLE_AFTER_MS - 1, false)).toBe('defer');
    // the burst goes on: its clock did not restart
    expect(g.at(10_000, true)).toBe('share');
  });

  it('is full again once email has been idle for a moment, and a new burst defers afresh', () => {
    const g = gate(10_000);
    g.at(0, true);
    g.at(20_000, true);
    expect(g.at(20_000 + IDLE_AFTER_MS, false)).toBe('full');
    expect(g.at(30_000, true)).toBe('defer');
  });

  it('never defers with a limit of 0', () => {
    const g = gate(0);
    expect(g.at(0, true)).toBe('share');
  });
});
