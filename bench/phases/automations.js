// Figure 9: automations. 10,000 contacts (written straight into the database: the contacts are the set-up, not the
// figure) are enrolled through the Keplars enroll route in a three-step automation: send_email, a 5 s delay,
// send_email (bulk tier). One `api` and one `worker` process on PostgreSQL, SMTP_URL at a sink. The figures:
// every enrollment completes with each of its two emails accepted once and delivered once; the step lag (a send
// step's due time to its email's acceptance, from automation_step_runs and messages) p50/p99; and instant-email
// latency (POST to the sink) while the automation runs (a series twice as long as the unloaded one, so it spans the
// enrolling, the delay and the second sends), next to the same series before it, unloaded. Both series come after
// warm-ups (the automation path's and the instant path's), so neither counts a process's cold start.
import { randomBytes } from 'node:crypto';
import { settle, startCpu } from '../lib/cpu.js';
import { provision, query } from '../lib/db.js';
import { keepAliveAgent, pacedSends, requestJson } from '../lib/load.js';
import { BENCH_SENDER, runCli, serverEnv, sleep, startServer, stop, waitForReady } from '../lib/processes.js';
import { startSink } from '../lib/sink.js';
import { round, summarize } from '../lib/stats.js';

export const SETTINGS = { contacts: 10_000, delaySec: 5, enrollConcurrency: 8, instant: 200, instantLoaded: 400, instantIntervalMs: 50, timeoutMs: 240_000 };
export const GOALS = { stepLagP99Ms: 2_000, instantLoadedRatio: 2 };

const SECRET_KEY = randomBytes(32).toString('hex');
const env = (extra) => serverEnv({ SECRET_KEY, ...extra });

async function adminRequest(agent, baseUrl, adminKey, method, path, body) {
  const res = await requestJson(agent, `${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json;
}

/** Instant emails paced through the API; latency from the POST to the sink's arrival. */
async function instantSeries(baseUrl, secretKey, sink, count = SETTINGS.instant) {
  const { sent } = await pacedSends({ baseUrl, secretKey, tier: 'instant', count, intervalMs: SETTINGS.instantIntervalMs });
  const ids = sent.filter((s) => s.id !== null);
  await sink.waitForIds(ids.map((s) => s.id), 60_000);
  const latencies = [];
  for (const s of ids) {
    const at = sink.arrivals.get(s.id);
    if (at !== undefined) latencies.push(at - s.sentAt);
  }
  // the API's answer alone, to tell a busy API from a busy worker
  const acceptMs = summarize(ids.map((s) => s.answeredAt - s.sentAt));
  return { sent: sent.length, accepted: ids.length, arrived: latencies.length, latencyMs: summarize(latencies), acceptMs };
}

async function waitForCompletion(url, automationId, count) {
  const deadline = Date.now() + SETTINGS.timeoutMs;
  for (;;) {
    const [row] = await query(url, `SELECT count(*) FILTER (WHERE status = 'completed')::int AS done, count(*) FILTER (WHERE status = 'exited')::int AS exited FROM automation_enrollments WHERE automation_id = '${automationId}'`);
    if (row.done + row.exited >= count) return { ...row, at: Date.now() };
    if (Date.now() > deadline) throw new Error(`after ${SETTINGS.timeoutMs} ms only ${row.done} of ${count} enrollments completed (${row.exited} exited)`);
    await sleep(250);
  }
}

export async function run({ log }) {
  const db = await provision('automations');
  const dbEnv = env({ DATABASE_URL: db.url });
  const admin = JSON.parse(await runCli(['admin-key', 'create', '--workspace', db.workspaceId, '--json'], dbEnv));
  await query(
    db.url,
    `INSERT INTO contacts (id, workspace_id, email, email_key, first_name)
     SELECT gen_random_uuid(), '${db.workspaceId}', 'person' || i || '@bench.example.test', 'person' || i || '@bench.example.test', 'First' || i
       FROM generate_series(1, ${SETTINGS.contacts}) AS i`,
  );
  const emails = Array.from({ length: SETTINGS.contacts }, (_, i) => `person${i + 1}@bench.example.test`);

  const sink = await startSink('smtp-sink (automations)');
  const api = startServer('api (automations)', 'api', env({ DATABASE_URL: db.url, PORT: '0' }));
  let worker = null;
  const agent = keepAliveAgent(SETTINGS.enrollConcurrency + 4);
  try {
    const { url } = await waitForReady(api);
    const adminKey = admin.secret_key;
    const template = await adminRequest(agent, url, adminKey, 'POST', '/api/v1/templates/save', { name: 'bench welcome', subject: 'Hello {{firstName}}', html: '<p>Hello {{firstName}} ({{email}})</p>' });
    const send = (id, next) => ({ id, type: 'send_email', template_id: template.data.id, from: BENCH_SENDER, tier: 'bulk', next });
    const created = await adminRequest(agent, url, adminKey, 'POST', '/api/v1/automations', {
      name: 'bench: send, wait, send',
      trigger: { type: 'manual', config: {} },
      steps: [send('first', 'wait'), { id: 'wait', type: 'delay', amount: SETTINGS.delaySec, unit: 'seconds', next: 'second' }, send('second', null)],
    });
    const automationId = created.data.id;
    await adminRequest(agent, url, adminKey, 'POST', `/api/v1/automations/${automationId}/activate`);

    worker = startServer('worker (automations)', 'worker', env({ DATABASE_URL: db.url, SMTP_URL: sink.url }));
    await waitForReady(worker);
    // Warm-up, as the instant series below has one: the automation path's first run in each process pays its
    // cold start (the template's first compile starts a content thread in the worker; the enroll route's first
    // requests in the api). A throwaway automation with the same steps, eight contacts enrolled together.
    const warmUp = await adminRequest(agent, url, adminKey, 'POST', '/api/v1/automations', {
      name: 'bench: warm-up',
      trigger: { type: 'manual', config: {} },
      steps: [send('first', 'wait'), { id: 'wait', type: 'delay', amount: 1, unit: 'seconds', next: 'second' }, send('second', null)],
    });
    await adminRequest(agent, url, adminKey, 'POST', `/api/v1/automations/${warmUp.data.id}/activate`);
    const warmUpContacts = emails.slice(0, SETTINGS.enrollConcurrency);
    await Promise.all(warmUpContacts.map((email) => adminRequest(agent, url, adminKey, 'POST', `/api/v1/public/automations/add-automation/${warmUp.data.id}/enroll`, { email })));
    await waitForCompletion(db.url, warmUp.data.id, warmUpContacts.length);
    await settle('automations/unloaded');
    await instantSeries(url, db.secretKey, sink); // warm-up: the worker's first emails pay its cold start
    const unloaded = await instantSeries(url, db.secretKey, sink);
    log?.(`unloaded instant p50/p99 ${unloaded.latencyMs.p50}/${unloaded.latencyMs.p99} ms`);

    await settle('automations/run');
    const cpu = startCpu({ api, worker });
    const startedAt = Date.now();
    let next = 0;
    const failures = [];
    const lane = async () => {
      while (next < emails.length) {
        const email = emails[next++];
        try {
          await adminRequest(agent, url, adminKey, 'POST', `/api/v1/public/automations/add-automation/${automationId}/enroll`, { email });
        } catch (err) {
          if (failures.length < 5) failures.push(err.message);
          failures.count = (failures.count ?? 0) + 1;
        }
      }
    };
    const enrolling = Promise.all(Array.from({ length: SETTINGS.enrollConcurrency }, lane)).then(() => Date.now());
    const [loaded, enrolledAt] = await Promise.all([instantSeries(url, db.secretKey, sink, SETTINGS.instantLoaded), enrolling]);
    if (failures.length > 0) throw new Error(`${failures.count} enroll calls failed: ${failures.join('; ')}`);
    log?.(`enrolled ${emails.length} in ${round((enrolledAt - startedAt) / 1000, 1)} s; loaded instant p50/p99 ${loaded.latencyMs.p50}/${loaded.latencyMs.p99} ms (API answer ${loaded.acceptMs.p50}/${loaded.acceptMs.p99} ms)`);
    const completion = await waitForCompletion(db.url, automationId, emails.length);
    const expectedEmails = emails.length * 2;
    const [sends] = await query(
      db.url,
      `SELECT count(*)::int AS runs, count(DISTINCT r.message_id)::int AS messages,
              count(*) FILTER (WHERE r.outcome <> 'sent')::int AS not_sent
         FROM automation_step_runs r JOIN automation_enrollments e ON e.id = r.enrollment_id
        WHERE e.automation_id = '${automationId}' AND r.step_type = 'send_email'`,
    );
    const lags = await query(
      db.url,
      `SELECT (extract(epoch FROM m.created_at - r.due_at) * 1000)::float8 AS ms, r.step_id
         FROM automation_step_runs r JOIN messages m ON m.id = r.message_id
         JOIN automation_enrollments e ON e.id = r.enrollment_id
        WHERE e.automation_id = '${automationId}' AND r.step_type = 'send_email'`,
    );
    const perContact = await query(
      db.url,
      `SELECT count(*)::int AS n FROM (SELECT e.contact_id FROM automation_step_runs r JOIN automation_enrollments e ON e.id = r.enrollment_id
        WHERE e.automation_id = '${automationId}' AND r.step_type = 'send_email' GROUP BY e.contact_id HAVING count(*) <> 2) odd`,
    );
    // every automation email reaches the sink once: wait for them, then look for duplicates
    const automationIds = (await query(db.url, `SELECT r.message_id AS id FROM automation_step_runs r JOIN automation_enrollments e ON e.id = r.enrollment_id WHERE e.automation_id = '${automationId}' AND r.message_id IS NOT NULL`)).map((r) => r.id);
    const arrivedAll = await sink.waitForIds(automationIds, 120_000).then(() => true, () => false);
    const deliveredAt = Date.now();
    const cpuUsed = cpu();
    const lagMs = summarize(lags.map((r) => r.ms));
    const ratio = unloaded.latencyMs.p99 > 0 ? loaded.latencyMs.p99 / unloaded.latencyMs.p99 : null;
    const ok = completion.done === emails.length && sends.runs === expectedEmails && sends.messages === expectedEmails && perContact[0].n === 0 && arrivedAll && sink.state.duplicates === 0;
    return {
      settings: SETTINGS,
      goals: GOALS,
      contacts: emails.length,
      completed: completion.done,
      exited: completion.exited,
      enrollSeconds: round((enrolledAt - startedAt) / 1000, 1),
      completeSeconds: round((completion.at - startedAt) / 1000, 1),
      deliveredSeconds: round((deliveredAt - startedAt) / 1000, 1),
      emails: { expected: expectedEmails, stepRuns: sends.runs, distinctMessages: sends.messages, notSent: sends.not_sent, contactsWithoutTwo: perContact[0].n, arrivedAll, sinkDuplicates: sink.state.duplicates },
      eachEmailOnce: ok,
      stepLagMs: lagMs,
      instant: { unloaded, loaded, p99Ratio: ratio === null ? null : round(ratio, 2) },
      cpu: cpuUsed,
    };
  } finally {
    agent.destroy();
    if (worker) await stop(worker);
    await stop(api);
    await sink.close();
  }
}
