// Figure 5: DKIM-signed deliveries/s to a local SMTP sink. A custom domain is added, published in a small
// authoritative DNS server run here (DNS_SERVERS points every server process at it), verified and given
// a sending key, all through the API; N async emails from that domain are queued with no worker running,
// then one `worker` process starts with SMTP_URL at the sink and signs every message (on its
// DKIM_SIGNING_THREADS threads); the clock runs from its spawn until the sink has all N. The sink counts
// the messages that begin with a DKIM-Signature header (all must) and one signature is verified against
// the DNS. Baseline: plain nodemailer (pooled, 5 connections, TCP_NODELAY) sending the same N messages
// unsigned to the same kind of sink from this process. Each side is measured BENCH_ROUNDS times, alternately,
// each server round on a fresh database with the domain set up anew; the figures are the median rounds.
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import process from 'node:process';
import { createTCPServer, createUDPServer, Packet } from 'dns2';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { settle, startCpu } from '../lib/cpu.js';
import { activitySince, createDatabase, dbActivity, messageStatuses } from '../lib/db.js';
import { EMAIL, enqueue, keepAliveAgent, requestJson, sendHeaders } from '../lib/load.js';
import { runCli, serverEnv, sleep, startServer, stop, waitForReady } from '../lib/processes.js';
import { nodemailerDelivery } from '../lib/nodemailer-baseline.js';
import { startSink } from '../lib/sink.js';
import { alternateRounds, roundsSetting } from '../lib/rounds.js';
import { round, steadiness } from '../lib/stats.js';

export const SETTINGS = { messages: 5_000, enqueueConcurrency: 50, smtpMaxConnections: 5, timeoutMs: 120_000, verifyTimeoutMs: 30_000 };
export const GOAL = 0.5;
export const DOMAIN = 'bench.example.test';
const FROM = `bench@${DOMAIN}`;
/** the same message for the worker and for nodemailer; only the sender differs from the delivery phase */
const SIGNED_EMAIL = { ...EMAIL, from: FROM };

/**
 * Settings of custom domains that the server reads and serverEnv does not clear: never inherited from the
 * caller's shell. BENCH_DKIM_SIGNING_THREADS sets the worker's DKIM_SIGNING_THREADS (unset: the server's default).
 */
const DOMAIN_VARS = /^(SECRET_KEY|DKIM_SIGNING_THREADS|DKIM_SELECTOR|MAIL_FROM_SUBDOMAIN|BOUNCE_HOST|DMARC_REPORT_EMAIL|SPF_MECHANISMS|REGION_.*)$/;

function domainEnv(extra) {
  const env = serverEnv(extra);
  for (const name of Object.keys(env)) {
    if (DOMAIN_VARS.test(name) && !Object.hasOwn(extra, name)) delete env[name];
  }
  return env;
}

// --- a tiny authoritative DNS server on 127.0.0.1 (UDP and TCP on one port), in this process ------------

const TTL = 60;
const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3 };
const normalizeName = (name) => name.toLowerCase().replace(/\.$/, '');

/** Splits a TXT value into character-strings of at most 255 bytes (the values here are ASCII). */
function characterStrings(text) {
  const out = [];
  for (let i = 0; i < text.length; i += 255) out.push(text.slice(i, i + 255));
  return out.length > 0 ? out : [''];
}

/**
 * Serves TXT and MX records set with `publish`; unknown names get NXDOMAIN, known names without the asked
 * type get an empty answer (NODATA). Counts the queries it answered.
 */
async function startDns() {
  /** name -> { TXT: string[], MX: {exchange, priority}[] } */
  const zone = new Map();
  const queries = { udp: 0, tcp: 0, byType: {} };
  const typeNames = new Map(Object.entries(Packet.TYPE).map(([name, code]) => [code, name]));
  const handle = (transport) => (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const question = request.questions[0];
    if (!question) response.header.rcode = RCODE.FORMERR;
    else {
      queries[transport]++;
      const type = typeNames.get(question.type) ?? String(question.type);
      queries.byType[type] = (queries.byType[type] ?? 0) + 1;
      const name = normalizeName(question.name);
      const known = zone.has(name) || [...zone.keys()].some((k) => k.endsWith(`.${name}`));
      const sets = zone.get(name);
      if (!known) response.header.rcode = RCODE.NXDOMAIN;
      else if (sets && type === 'TXT') {
        for (const value of sets.TXT) response.answers.push(Object.assign(new Packet.Resource(question.name, Packet.TYPE.TXT, Packet.CLASS.IN, TTL), { data: characterStrings(value) }));
      } else if (sets && type === 'MX') {
        for (const mx of sets.MX) response.answers.push(Object.assign(new Packet.Resource(question.name, Packet.TYPE.MX, Packet.CLASS.IN, TTL), mx));
      }
    }
    // UDP sends return a promise, TCP sends nothing; a client gone by now does not matter
    Promise.resolve(send(response)).catch(() => undefined);
  };

  // bind UDP to a free port, then TCP to the same one (resolvers retry truncated answers over TCP there)
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createUDPServer({ type: 'udp4' });
    udp.on('request', handle('udp'));
    udp.on('error', () => undefined);
    await udp.listen(0, '127.0.0.1');
    const port = udp.address().port;
    const tcp = createTCPServer();
    tcp.on('request', handle('tcp'));
    try {
      await new Promise((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch {
      udp.close();
      continue;
    }
    tcp.on('error', () => undefined);
    const sockets = new Set();
    tcp.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return {
      port,
      server: `127.0.0.1:${port}`,
      queries,
      /** Forgets every published record (a new round sets the domain up again, with a new key). */
      reset() {
        zone.clear();
      },
      /** Publishes the records as the API lists them: TXT values as given, MX with its priority. */
      publish(records) {
        for (const r of records) {
          const sets = zone.get(normalizeName(r.name)) ?? { TXT: [], MX: [] };
          if (r.type === 'TXT') sets.TXT.push(r.value);
          else if (r.type === 'MX') sets.MX.push({ exchange: r.value, priority: r.priority });
          else throw new Error(`the API asked for a ${r.type} record, which the bench DNS does not serve: ${JSON.stringify(r)}`);
          zone.set(normalizeName(r.name), sets);
        }
      },
      close() {
        for (const socket of sockets) socket.destroy();
        return Promise.all([new Promise((resolve) => udp.close(() => resolve())), new Promise((resolve) => tcp.close(() => resolve()))]);
      },
    };
  }
  throw new Error('could not bind the bench DNS server to one UDP+TCP port on 127.0.0.1');
}

// --- the custom domain, through the API ---------------------------------------------------------------

/** One Domains API call with the admin key; throws with the answer unless it is 2xx with success. */
async function domainsApi(agent, baseUrl, adminKey, method, path, body) {
  const res = await requestJson(agent, `${baseUrl}/api/v1/public/domains/${path}`, { method, headers: sendHeaders(adminKey), body });
  if (res.status < 200 || res.status >= 300 || !res.json || res.json.success !== true) {
    throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 600)}`);
  }
  return res.json.data;
}

/** Adds the domain, publishes its records, verifies it and creates a sending key tied to it. */
async function setUpDomain(baseUrl, adminKey, dns) {
  const agent = keepAliveAgent(2);
  try {
    const added = await domainsApi(agent, baseUrl, adminKey, 'POST', 'add-domain', { domain: DOMAIN });
    if (typeof added.id !== 'string' || !Array.isArray(added.dns_records)) throw new Error(`add-domain answered without id or dns_records: ${JSON.stringify(added).slice(0, 600)}`);
    dns.publish(added.dns_records);
    const startedAt = Date.now();
    let verified = null;
    let attempts = 0;
    while (Date.now() - startedAt < SETTINGS.verifyTimeoutMs) {
      attempts++;
      verified = await domainsApi(agent, baseUrl, adminKey, 'POST', `verify-domain/${added.id}`);
      if (verified.verification_status === 'verified' && verified.mail_from_status === 'verified') break;
      await sleep(500);
    }
    if (verified?.verification_status !== 'verified') {
      throw new Error(`domain not verified after ${attempts} verify-domain calls: ${verified?.message ?? ''} ${JSON.stringify(verified?.dns_records?.map((r) => [r.purpose, r.status, r.reason]))}`);
    }
    const status = await domainsApi(agent, baseUrl, adminKey, 'GET', `domain-status/${added.id}`);
    if (status.verification_status !== 'verified') throw new Error(`verify-domain said verified but domain-status says ${status.verification_status}`);
    const key = await domainsApi(agent, baseUrl, adminKey, 'POST', 'api-keys/create', { custom_domain_id: added.id, name: 'bench' });
    if (typeof key.secret_key !== 'string') throw new Error(`api-keys/create answered without secret_key: ${JSON.stringify(key).slice(0, 300)}`);
    return {
      id: added.id,
      // the sending key's secret stays out of the results file
      secretKey: key.secret_key,
      verifyCalls: attempts,
      verifyMs: Date.now() - startedAt,
      verificationStatus: status.verification_status,
      mailFromStatus: status.mail_from_status,
      mailFromDomain: status.mail_from_domain,
      dkim: status.dkim,
      records: added.dns_records.map((r) => ({ type: r.type, name: r.name, purpose: r.purpose, priority: r.priority, valueBytes: r.value.length })),
      recordStatuses: Object.fromEntries(status.dns_records.map((r) => [r.purpose, r.status])),
    };
  } finally {
    agent.destroy();
  }
}

/** CPU seconds of each thread of a process, busiest first (threads that exited are not listed). */
function threadCpuSec(pid) {
  const threads = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
        threads.push({ tid: Number(tid), main: Number(tid) === pid, cpuSec: round((Number(f[11]) + Number(f[12])) / 100, 2) });
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return null;
  }
  return threads.sort((a, b) => b.cpuSec - a.cpuSec);
}

/** Verifies the sink's first signed message with mailauth, against the bench DNS. */
async function verifySample(raw, dns) {
  if (!raw) return { result: 'no sample', detail: null };
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([dns.server]);
  const result = await dkimVerify(Buffer.from(raw, 'latin1'), { resolver: (name, type) => resolver.resolve(name, type) });
  const first = result.results[0];
  return {
    result: first?.status?.result ?? 'none',
    detail: first ? { domain: first.signingDomain, selector: first.selector, algo: first.algo, comment: first.status?.comment ?? null, aligned: first.status?.aligned ?? null } : null,
  };
}

// --- the measurement ----------------------------------------------------------------------------------

async function serverDelivery(db, secretKeyHex, dns) {
  const sink = await startSink('smtp-sink (dkim)');
  const common = { DATABASE_URL: db.url, SECRET_KEY: secretKeyHex, DNS_SERVERS: dns.server, SMTP_URL: sink.url };
  let worker;
  let pgBefore = null;
  try {
    // the workspace's admin key (all scopes) from the CLI, as an operator gets it
    const cliEnv = domainEnv({ DATABASE_URL: db.url, SECRET_KEY: secretKeyHex });
    await runCli(['migrate'], cliEnv);
    const ws = JSON.parse(await runCli(['workspace', 'create', '--name', 'bench-dkim', '--plan', 'ENTERPRISE', '--json'], cliEnv));
    if (typeof ws.admin_key !== 'string') throw new Error('workspace create printed no admin_key');

    // the domain and the queue, through the API, with SMTP_URL set so it applies the real sending rules
    const api = startServer('api (dkim)', 'api', domainEnv({ ...common, PORT: '0' }));
    let domain;
    let queued;
    try {
      const { url } = await waitForReady(api);
      domain = await setUpDomain(url, ws.admin_key, dns);
      const cpu = startCpu({ api });
      queued = await enqueue({ baseUrl: url, secretKey: domain.secretKey, count: SETTINGS.messages, concurrency: SETTINGS.enqueueConcurrency, timeoutMs: 60_000, tier: 'async', email: SIGNED_EMAIL });
      queued.cpu = cpu();
      queued.apiLog = api.problems;
    } finally {
      await stop(api);
    }
    if (queued.ids.length === 0) throw new Error(`could not queue any email from ${FROM}: ${JSON.stringify(queued.failures)}; api log: ${queued.apiLog.samples.join(' / ').slice(0, 1_500)}`);

    const threadsSetting = process.env.BENCH_DKIM_SIGNING_THREADS ?? null;
    const workerEnv = domainEnv({ ...common, SMTP_MAX_CONNECTIONS: String(SETTINGS.smtpMaxConnections), ...(process.env.BENCH_WORKER_CONCURRENCY ? { WORKER_CONCURRENCY: process.env.BENCH_WORKER_CONCURRENCY } : {}), ...(threadsSetting !== null ? { DKIM_SIGNING_THREADS: threadsSetting } : {}) });
    await settle('dkim/worker');
    pgBefore = await dbActivity(db.name).catch(() => null);
    const dnsQueriesBefore = dns.queries.udp + dns.queries.tcp;
    const spawnedAt = Date.now();
    worker = startServer('worker (dkim)', 'worker', workerEnv);
    const cpu = startCpu({ worker, sink: sink.entry });
    const ready = await waitForReady(worker);
    const n = queued.ids.length;
    const doneAt = await sink.waitForUnique(n, SETTINGS.timeoutMs);
    const cpuUsed = cpu();
    const threads = threadCpuSec(worker.pid);
    const sinkStats = await sink.stats();
    const missing = queued.ids.filter((id) => !sink.arrivals.has(id)).length;
    await stop(worker);
    const pg = await activitySince(db.name, pgBefore, n);
    const sample = await verifySample(sinkStats.signedSample, dns);
    const { secretKey: _secret, ...domainFacts } = domain;
    return {
      domain: domainFacts,
      queued: { accepted: n, failures: queued.failures, enqueuePerSecond: round(queued.perSecond), cpu: queued.cpu, apiLog: queued.apiLog },
      signingThreads: threadsSetting !== null ? { setting: threadsSetting, source: 'BENCH_DKIM_SIGNING_THREADS' } : { setting: Math.max(1, Math.min(8, os.availableParallelism() - 1)), source: 'server default, cores - 1, 1 to 8' },
      workerThreadsCpuSec: threads,
      arrivals: steadiness(sink.arrivalTimes),
      cpu: cpuUsed,
      bootMs: ready.at - spawnedAt,
      elapsedMs: doneAt - spawnedAt,
      perSecond: n / ((doneAt - spawnedAt) / 1000),
      perSecondAfterReady: n / ((doneAt - ready.at) / 1000),
      sink: { ...sink.state, smtpConnections: sinkStats.connections, messages: sinkStats.messages, signed: sinkStats.signed, missingAcceptedIds: missing },
      sampleVerification: sample,
      dnsQueriesDuringWorker: dns.queries.udp + dns.queries.tcp - dnsQueriesBefore,
      workerLog: worker.problems,
      postgres: pg,
    };
  } finally {
    await stop(worker);
    await sink.close();
  }
}


/** One server round on a fresh database and a freshly published domain; fails unless every message is signed and a sample verifies. */
async function serverRound(i, secretKeyHex, dns) {
  const db = await createDatabase(`dkim_r${i + 1}`);
  dns.reset();
  const server = await serverDelivery(db, secretKeyHex, dns);
  const statuses = await messageStatuses(db.url);
  // a delivery that is not signed, or whose signature does not verify, fails the phase
  const n = server.queued.accepted;
  if (server.sink.signed < server.sink.messages || server.sink.messages < n) {
    throw new Error(`round ${i + 1}: only ${server.sink.signed} of the ${server.sink.messages} messages at the sink (${n} queued) began with a DKIM-Signature header`);
  }
  if (server.sampleVerification.result !== 'pass') {
    throw new Error(`round ${i + 1}: the first signed message did not verify against the published DKIM record: ${JSON.stringify(server.sampleVerification)}`);
  }
  return { ...server, messageStatusesAfter: statuses };
}

export async function run({ log } = {}) {
  const secretKeyHex = randomBytes(32).toString('hex');
  const dns = await startDns();
  try {
    const measured = await alternateRounds(
      roundsSetting(),
      (i) => serverRound(i, secretKeyHex, dns),
      (server) => nodemailerDelivery({ n: server.queued.accepted, label: 'dkim', email: SIGNED_EMAIL, maxConnections: SETTINGS.smtpMaxConnections, timeoutMs: SETTINGS.timeoutMs }),
      log,
    );
    return { settings: SETTINGS, ...measured, goal: GOAL };
  } finally {
    await dns.close();
  }
}
