import { describe, expect, it } from 'vitest';
import { BackgroundPacer, type PacerClock } from './background-pacer.js';

/** A clock that moves only when the pacer sleeps or a unit says it took time. */
function manualClock(): PacerClock & { t: number; slept: number[] } {
  const clock = {
    t: 0,
    slept: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const pacerWith = (clock: PacerClock, share = 0.25) => new BackgroundPacer({ share, windowMs: 1000, maxRestMs: 1000, clock });

describe('BackgroundPacer', () => {
  it('runs units at once and side by side while no instant mail flows', async () => {
    const clock = manualClock();
    const pacer = pacerWith(clock);
    const gate = deferred();
    const started: string[] = [];
    const a = pacer.run(async () => {
      started.push('a');
      await gate.promise;
    });
    const b = pacer.run(async () => {
      started.push('b');
      await gate.promise;
    });
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    gate.resolve();
    await Promise.all([a, b]);
    expect(pacer.pacing).toBe(false);
    expect(clock.slept).toEqual([]);
    expect(pacer.unitsPaced).toBe(0);
  });

  it('runs units one at a time while instant mail flows, each after a rest that keeps the background to its share', async () => {
    const clock = manualClock();
    const pacer = pacerWith(clock, 0.25);
    pacer.noteInstant();
    expect(pacer.pacing).toBe(true);
    const spans: { start: number; end: number }[] = [];
    let running = 0;
    let most = 0;
    const unit = (ms: number) =>
      pacer.run(async () => {
        running++;
        most = Math.max(most, running);
        const start = clock.t;
        await Promise.resolve();
        clock.t += ms;
        spans.push({ start, end: clock.t });
        running--;
      });
    await Promise.all([unit(40), unit(40), unit(40)]);
    expect(most).toBe(1);
    expect(pacer.unitsPaced).toBe(3);
    // a 40 ms unit at a quarter of the time: 120 ms of rest before the next one
    expect(spans[1]!.start - spans[0]!.end).toBe(120);
    expect(spans[2]!.start - spans[1]!.end).toBe(120);
  });

  it('never rests longer than maxRestMs after a long unit', async () => {
    const clock = manualClock();
    const pacer = new BackgroundPacer({ share: 0.25, windowMs: 60_000, maxRestMs: 500, clock });
    pacer.noteInstant();
    await pacer.run(async () => {
      clock.t += 2000;
    });
    const before = clock.t;
    let startedAt = -1;
    await pacer.run(async () => {
      startedAt = clock.t;
    });
    expect(startedAt - before).toBe(500);
  });

  it('ends the rest when instant mail stops', async () => {
    const clock = manualClock();
    const pacer = new BackgroundPacer({ share: 0.1, windowMs: 300, maxRestMs: 5000, clock });
    pacer.noteInstant();
    await pacer.run(async () => {
      clock.t += 200; // a rest of 1800 ms would follow; the window closes 100 ms later
    });
    const before = clock.t;
    await pacer.run(async () => undefined);
    expect(clock.t - before).toBeGreaterThanOrEqual(100);
    expect(clock.t - before).toBeLessThanOrEqual(150);
    expect(pacer.pacing).toBe(false);
  });

  it('never paces with a share of 1', async () => {
    const clock = manualClock();
    const pacer = pacerWith(clock, 1);
    pacer.noteInstant();
    expect(pacer.pacing).toBe(false);
    await pacer.run(async () => {
      clock.t += 100;
    });
    await pacer.run(async () => undefined);
    expect(clock.slept).toEqual([]);
  });

  it('passes a unit’s result and its error on, and a failed unit frees the turn', async () => {
    const clock = manualClock();
    const pacer = pacerWith(clock);
    pacer.noteInstant();
    await expect(pacer.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(pacer.run(async () => 42)).resolves.toBe(42);
  });

  it('refuses a share outside (0, 1]', () => {
    expect(() => pacerWith(manualClock(), 0)).toThrow(RangeError);
    expect(() => pacerWith(manualClock(), 1.5)).toThrow(RangeError);
  });
});
