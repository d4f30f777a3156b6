// HTTP load: an autocannon wrapper for throughput, and a small keep-alive client for enqueueing and
// for paced single requests. Every loop here is bounded in request count and in time.
import http from 'node:http';
import { Buffer } from 'node:buffer';
import { clearTimeout, setTimeout } from 'node:timers';
import autocannon from 'autocannon';
import { BENCH_SENDER, sleep } from './processes.js';

export const EMAIL = { to: ['a@example.test'], from: BENCH_SENDER, subject: 's', body: '<p>hello</p>' };

export function sendHeaders(secretKey) {
  return { 'content-type': 'application/json', authorization: `Bearer ${secretKey}` };
}

/**
 * Runs autocannon for `durationSec` (hard-stopped a few seconds later if it overruns) and at most
 * `maxRequests` requests. Returns the 2xx rate and everything that went wrong.
 */
export function runLoad({ url, method = 'POST', headers, body, connections, durationSec, maxRequests }) {
  return new Promise((resolve, reject) => {
    let hardStop;
    const instance = autocannon(
      { url, method, headers, body, connections, duration: durationSec, maxOverallRequests: maxRequests, timeout: 10 },
      (err, result) => {
        clearTimeout(hardStop);
        if (err) return reject(err);
        const seconds = result.duration;
        resolve({
          connections,
          durationSec: seconds,
          ok: result['2xx'],
          perSecond: seconds > 0 ? result['2xx'] / seconds : 0,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, v]) => [code, v.count])),
          latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
        });
      },
    );
    hardStop = setTimeout(() => instance.stop(), (durationSec + 15) * 1000);
  });
}

/** One JSON request over a keep-alive agent. Resolves with { status, json, text }; rejects on a network error or timeout. */
export function requestJson(agent, url, { method = 'POST', headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(url, { method, agent, headers: payload ? { ...headers, 'content-length': payload.length } : headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode, json, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function keepAliveAgent(maxSockets) {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/**
 * Sends `count` emails to a tier with `concurrency` requests in flight. Stops early after `timeoutMs` or
 * once 100 requests failed. Resolves with the ids accepted and what went wrong.
 */
export async function enqueue({ baseUrl, secretKey, tier, count, concurrency, timeoutMs, email = EMAIL }) {
  const agent = keepAliveAgent(concurrency);
  const url = `${baseUrl}/api/v1/send-email/${tier}`;
  const headers = sendHeaders(secretKey);
  const body = JSON.stringify(email);
  const ids = [];
  const failures = { count: 0, statusCodes: {}, samples: [] };
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  const started = Date.now();
  async function lane() {
    while (next < count && Date.now() < deadline && failures.count < 100) {
      next++;
      try {
        const res = await requestJson(agent, url, { headers, body });
        if (res.status === 200 && res.json && typeof res.json.id === 'string') {
          ids.push(res.json.id);
        } else {
          failures.count++;
          failures.statusCodes[res.status] = (failures.statusCodes[res.status] ?? 0) + 1;
          if (failures.samples.length < 3) failures.samples.push(`${res.status} ${res.text.slice(0, 300)}`);
        }
      } catch (err) {
        failures.count++;
        failures.statusCodes.network = (failures.statusCodes.network ?? 0) + 1;
        if (failures.samples.length < 3) failures.samples.push(err.message);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsedMs = Date.now() - started;
  agent.destroy();
  return { ids, failures, elapsedMs, perSecond: ids.length / (elapsedMs / 1000), timedOut: ids.length + failures.count < count };
}

/**
 * Sends `count` emails one every `intervalMs` without waiting for answers (at most `count` requests,
 * over about count × intervalMs). Each entry records the time just before its request was written.
 */
export async function pacedSends({ baseUrl, secretKey, tier, count, intervalMs }) {
  const agent = keepAliveAgent(64);
  const url = `${baseUrl}/api/v1/send-email/${tier}`;
  const headers = sendHeaders(secretKey);
  const body = JSON.stringify(EMAIL);
  const sent = [];
  const inflight = [];
  const start = Date.now();
  let maxPacingLagMs = 0;
  for (let i = 0; i < count; i++) {
    const scheduled = start + i * intervalMs;
    const wait = scheduled - Date.now();
    if (wait > 0) await sleep(wait);
    const entry = { sentAt: Date.now(), id: null, status: null, answeredAt: null, error: null };
    maxPacingLagMs = Math.max(maxPacingLagMs, entry.sentAt - scheduled);
    sent.push(entry);
    inflight.push(
      requestJson(agent, url, { headers, body }).then(
        (res) => {
          entry.answeredAt = Date.now();
          entry.status = res.status;
          if (res.status === 200 && res.json && typeof res.json.id === 'string') entry.id = res.json.id;
          else entry.error = `${res.status} ${res.text.slice(0, 300)}`;
        },
        (err) => {
          entry.error = err.message;
        },
      ),
    );
  }
  await Promise.all(inflight);
  agent.destroy();
  return { sent, maxPacingLagMs };
}
