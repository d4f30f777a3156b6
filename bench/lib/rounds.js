// Repeated measurement for the delivery figures, whose single runs vary by ±10% on a shared 2-core machine.
import process from 'node:process';
import { round } from './stats.js';

/** BENCH_ROUNDS: how many times the delivery phases measure each side (default 3; odd, so the median is a round). */
export function roundsSetting() {
  const raw = process.env.BENCH_ROUNDS ?? '3';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n % 2 === 0) throw new Error(`BENCH_ROUNDS must be an odd whole number ≥ 1, not ${JSON.stringify(raw)}`);
  return n;
}

/** The result with the median `perSecond`, carrying every round's rates. */
function median(results) {
  const sorted = [...results].sort((a, b) => a.perSecond - b.perSecond);
  const picked = sorted[(sorted.length - 1) / 2];
  const rates = results.map((r) => ({ perSecond: round(r.perSecond), ...(r.perSecondAfterReady !== undefined ? { perSecondAfterReady: round(r.perSecondAfterReady) } : {}) }));
  return { ...picked, medianOf: results.length, rounds: rates };
}

/**
 * Measures the server and its baseline `rounds` times, alternately, so that a slow spell of the machine falls
 * on both; each side's figure is its median round. `baselineRound` gets the server round it follows (to send
 * as many messages).
 */
export async function alternateRounds(rounds, serverRound, baselineRound, log) {
  const servers = [];
  const baselines = [];
  for (let i = 0; i < rounds; i++) {
    const server = await serverRound(i);
    servers.push(server);
    const baseline = await baselineRound(server, i);
    baselines.push(baseline);
    log?.(`round ${i + 1}/${rounds}: server ${round(server.perSecond)}/s, baseline ${round(baseline.perSecond)}/s`);
  }
  const server = median(servers);
  const baseline = median(baselines);
  return { server, baseline, ratio: round(server.perSecond / baseline.perSecond, 3), ratioAfterReady: round(server.perSecondAfterReady / baseline.perSecond, 3) };
}
