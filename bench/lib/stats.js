// Small statistics helpers.

/** Nearest-rank percentile (p in 0..100) of an unsorted array of numbers; null for an empty array. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(values) {
  if (values.length === 0) return { count: 0, min: null, p50: null, p90: null, p99: null, max: null, mean: null };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return {
    count: values.length,
    min,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max,
    mean: round(sum / values.length, 2),
  };
}

export function round(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return value ?? null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * How steady a stream of arrivals was: arrivals per `bucketMs` between the first and the last, and the
 * longest gap between two consecutive arrivals.
 */
export function steadiness(times, bucketMs = 100) {
  if (times.length < 2) return null;
  const sorted = [...times].sort((a, b) => a - b);
  const first = sorted[0];
  const buckets = new Array(Math.floor((sorted[sorted.length - 1] - first) / bucketMs) + 1).fill(0);
  let maxGap = 0;
  for (let i = 0; i < sorted.length; i++) {
    buckets[Math.floor((sorted[i] - first) / bucketMs)]++;
    if (i > 0) maxGap = Math.max(maxGap, sorted[i] - sorted[i - 1]);
  }
  const b = summarize(buckets);
  return { bucketMs, perBucket: { min: b.min, p50: b.p50, max: b.max, mean: b.mean }, emptyBuckets: buckets.filter((x) => x === 0).length, buckets: buckets.length, maxGapMs: maxGap };
}
