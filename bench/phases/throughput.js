// Figure 1: accepted emails/s on /send-email/async (one `api` process on PostgreSQL, no worker) next to a
// bare node:http server answering the same JSON, both driven by the same autocannon settings.
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { settle, startCpu } from '../lib/cpu.js';
import { provision, query } from '../lib/db.js';
import { EMAIL, keepAliveAgent, requestJson, runLoad, sendHeaders } from '../lib/load.js';
import { serverEnv, startModule, startServer, stop, waitForMessage, waitForReady } from '../lib/processes.js';
import { round } from '../lib/stats.js';

const BARE_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'bare-http-child.js');

export const SETTINGS = { connections: 100, warmupSec: 2, durationSec: 10, maxRequests: 2_000_000 };
export const GOAL = 0.08;

async function measure(label, url, headers, body, server) {
  await settle(label);
  const common = { url, headers, body, connections: SETTINGS.connections, maxRequests: SETTINGS.maxRequests };
  const warmup = await runLoad({ ...common, durationSec: SETTINGS.warmupSec });
  const cpu = startCpu({ server });
  const main = await runLoad({ ...common, durationSec: SETTINGS.durationSec });
  return { warmup: { ok: warmup.ok, non2xx: warmup.non2xx, errors: warmup.errors }, ...main, cpu: cpu() };
}

export async function run() {
  const db = await provision('throughput');
  const api = startServer('api', 'api', serverEnv({ DATABASE_URL: db.url, PORT: '0' }));
  try {
    const { url: baseUrl } = await waitForReady(api);
    const url = `${baseUrl}/api/v1/send-email/async`;
    const headers = sendHeaders(db.secretKey);
    const body = JSON.stringify(EMAIL);

    // one request first: the server must accept it, and its answer is what the baseline will send
    const agent = keepAliveAgent(1);
    const probe = await requestJson(agent, url, { headers, body });
    agent.destroy();
    if (probe.status !== 200) throw new Error(`probe request answered ${probe.status}: ${probe.text.slice(0, 300)}`);

    const bareEntry = startModule('bare-http', BARE_CHILD, [], { env: { ...process.env, BENCH_BARE_RESPONSE: probe.text } });
    let bare;
    try {
      const { port } = await waitForMessage(bareEntry, 'ready', 15_000);
      bare = await measure('throughput/bare', `http://127.0.0.1:${port}/api/v1/send-email/async`, headers, body, bareEntry);
    } finally {
      await stop(bareEntry);
    }

    const server = await measure('throughput/api', url, headers, body, api);
    const problems = { ...api.problems };

    let queued = null;
    try {
      queued = Number((await query(db.url, 'SELECT count(*)::int AS n FROM messages'))[0].n);
    } catch (err) {
      queued = `could not count: ${err.message}`;
    }
    const accepted = 1 + server.warmup.ok + server.ok;
    return {
      settings: SETTINGS,
      server,
      bare,
      ratio: round(server.perSecond / bare.perSecond, 4),
      goal: GOAL,
      serverLog: problems,
      // every 200 must be a stored email
      rowsInDatabase: queued,
      acceptedByClient: accepted,
      responseBytes: probe.text.length,
    };
  } finally {
    await stop(api);
  }
}
