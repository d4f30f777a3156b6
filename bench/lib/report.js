// Turns phase results into the Markdown table (for the README) and a few notes.
import { round } from './stats.js';

const fmt = (n, digits = 0) => (n === null || n === undefined ? '—' : Number(round(n, digits)).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const mark = (ok) => (ok ? '✅' : '❌');

function failedRow(figure, phase) {
  if (phase.skipped) return [figure, 'skipped', '—', '—'];
  return [figure, `**failed**: ${phase.error.split('\n')[0].slice(0, 160).replaceAll('|', '\\|')}`, '—', '—'];
}

/** How many alternating rounds a delivery figure is the median of. */
const medianOf = (phase) => (phase.ok && phase.result.server.medianOf > 1 ? `; median of ${phase.result.server.medianOf} rounds` : '');

/** Each round's rates, server then baseline, in the order they ran. */
const roundsLine = (r) => r.server.rounds.map((s, i) => `${fmt(s.perSecond)} vs ${fmt(r.baseline.rounds[i]?.perSecond)}`).join(', ');

export function tableRows(phases) {
  const rows = [];
  const noisy = noisySections(phases).join(' ');
  const flag = (prefix) => (noisy.includes(`${prefix}/`) ? ' ⚠️ noisy' : '');
  const t = phases.throughput;
  const f1 = 'Accepted emails/s, `POST /send-email/async` (PostgreSQL, 1 `api` process, no worker; autocannon 100 conns, 10 s after 2 s warm-up)';
  if (t.ok) {
    const r = t.result;
    rows.push([f1, `${fmt(r.server.perSecond)}/s`, `bare \`node:http\` fixed JSON: ${fmt(r.bare.perSecond)}/s`, `${fmt(r.ratio, 3)} (goal ≥ ${r.goal}) ${mark(r.ratio >= r.goal)}${flag('throughput')}`]);
  } else rows.push(failedRow(f1, t));

  const d = phases.delivery;
  const f2 = `Delivered emails/s to a local SMTP sink (5,000 queued async, 1 \`worker\` process, timed from its spawn${medianOf(d)})`;
  if (d.ok) {
    const r = d.result;
    rows.push([
      f2,
      `${fmt(r.server.perSecond)}/s (${fmt(r.server.perSecondAfterReady)}/s from ready)`,
      `nodemailer pool, 5 conns, TCP_NODELAY: ${fmt(r.baseline.perSecond)}/s`,
      `${fmt(r.ratio, 2)} (goal ≥ ${r.goal}) ${mark(r.ratio >= r.goal)}${flag('delivery')}`,
    ]);
  } else rows.push(failedRow(f2, d));

  const k = phases.dkim;
  const threads = k.ok ? `DKIM_SIGNING_THREADS=${k.result.server.signingThreads.setting}` : 'DKIM_SIGNING_THREADS';
  const f6 = `DKIM-signed deliveries/s to a local SMTP sink (domain verified through the API; 5,000 queued async, 1 \`worker\` process, ${threads}, timed from its spawn${medianOf(k)})`;
  if (k.ok) {
    const r = k.result;
    const s = r.server;
    rows.push([
      f6,
      `${fmt(s.perSecond)}/s (${fmt(s.perSecondAfterReady)}/s from ready); ${fmt(s.sink.signed)} of ${fmt(s.sink.messages)} signed, a sample verifies`,
      `nodemailer pool, 5 conns, TCP_NODELAY, unsigned: ${fmt(r.baseline.perSecond)}/s`,
      `${fmt(r.ratio, 2)} (goal ≥ ${r.goal}) ${mark(r.ratio >= r.goal)}${flag('dkim')}`,
    ]);
  } else rows.push(failedRow(f6, k));

  const l = phases.latency;
  const f3 = (p) => `Instant email, accept → sink, ${p} (200 sent 1 per 25 ms after 10 warm-up, 20,000 bulk queued)`;
  if (l.ok) {
    const r = l.result;
    const p50 = r.backlog.latencyMs.p50;
    const p99 = r.backlog.latencyMs.p99;
    const complete = r.backlog.notArrived === 0 && r.backlog.rejected === 0;
    const times = (a, b) => (a !== null && b ? `${fmt(a / b, 1)}× baseline; ` : '');
    const b50 = r.baseline.latencyMs.p50;
    const b99 = r.baseline.latencyMs.p99;
    rows.push([f3('p50'), `${fmt(p50)} ms`, `no backlog: ${fmt(b50)} ms`, `${times(p50, b50)}goal < ${r.goals.p50Ms} ms ${mark(complete && p50 !== null && p50 < r.goals.p50Ms)}${flag('latency')}`]);
    rows.push([f3('p99'), `${fmt(p99)} ms`, `no backlog: ${fmt(b99)} ms`, `${times(p99, b99)}goal < ${r.goals.p99Ms} ms ${mark(complete && p99 !== null && p99 < r.goals.p99Ms)}${flag('latency')}`]);
  } else {
    rows.push(failedRow(f3('p50'), l));
    rows.push(failedRow(f3('p99'), l));
  }

  const m = phases.memory;
  const f4 = 'Idle RSS of `keplars-server start` (embedded PGlite, fresh DATA_DIR, 5 s after ready)';
  const f5 = 'First boot to ready (`start`, embedded, fresh DATA_DIR)';
  if (m.ok) {
    const r = m.result;
    rows.push([f4, `${fmt(r.server.rssMiB, 1)} MiB`, `idle bare node: ${fmt(r.baseline.rssMiB, 1)} MiB`, `${fmt(r.ratio, 1)}×`]);
    rows.push([f5, `${fmt(r.server.firstBootMs)} ms`, `bare node to first output: ${fmt(r.baseline.bootMs)} ms`, `${fmt(r.server.firstBootMs / r.baseline.bootMs, 1)}×`]);
  } else {
    rows.push(failedRow(f4, m));
    rows.push(failedRow(f5, m));
  }

  const i = phases.import;
  const f7 = (what) => `CSV import of ${i?.ok ? fmt(i.result.rows) : '1,000,000'} contacts into PostgreSQL through the API (1 \`start\` process): ${what}`;
  if (i?.ok) {
    const r = i.result;
    rows.push([f7('time, upload to done'), `${fmt(r.seconds, 1)} s (${fmt(r.rowsPerSecond)} rows/s; upload ${fmt(r.uploadSec, 1)} s)`, '—', `goal ≤ ${r.goals.seconds} s ${mark(r.seconds <= r.goals.seconds)}`]);
    rows.push([f7('server RSS growth'), `${fmt(r.rssGrowthMiB, 1)} MiB (idle ${fmt(r.idleRssMiB, 1)} MiB)`, '—', `goal ≤ ${r.goals.rssGrowthMiB} MiB ${mark(r.rssGrowthMiB <= r.goals.rssGrowthMiB)}`]);
    rows.push([f7('longest gap between progress writes'), `${fmt(r.longestProgressGapSec, 2)} s`, '—', `goal ≤ ${r.goals.progressGapSec} s ${mark(r.longestProgressGapSec <= r.goals.progressGapSec)}`]);
  } else if (i) rows.push(failedRow(f7('time, RSS growth, progress gap'), i));

  const w = phases.webhooks;
  const f8 = 'Webhook deliveries/s to a loopback receiver (5,000 `email.scheduled` events in the outbox, 1 `worker` process, timed from its spawn)';
  const f9 = 'Accepted emails/s with one webhook endpoint subscribed to every event (autocannon 100 conns, 5 s after 2 s warm-up; median of alternating rounds)';
  const f10 = 'Delivered emails/s with one webhook endpoint subscribed to every event (3,000 queued async to an SMTP sink, 1 `worker`; median of alternating rounds)';
  if (w?.ok) {
    const r = w.result;
    rows.push([f8, `${fmt(r.deliveries.perSecond)}/s (${fmt(r.deliveries.perSecondAfterReady)}/s from ready)`, '—', `goal ≥ ${r.goals.deliveriesPerSecond}/s ${mark(r.deliveries.perSecond >= r.goals.deliveriesPerSecond)}${flag('webhooks')}`]);
    rows.push([f9, `${fmt(r.accept.with.perSecond)}/s`, `no webhooks: ${fmt(r.accept.without.perSecond)}/s`, `${fmt(r.accept.ratio, 2)} (goal ≥ ${r.goals.withWebhooksRatio}) ${mark(r.accept.ratio >= r.goals.withWebhooksRatio)}${flag('webhooks')}`]);
    rows.push([f10, `${fmt(r.delivery.with.perSecond)}/s`, `no webhooks: ${fmt(r.delivery.without.perSecond)}/s`, `${fmt(r.delivery.ratio, 2)} (goal ≥ ${r.goals.withWebhooksRatio}) ${mark(r.delivery.ratio >= r.goals.withWebhooksRatio)}${flag('webhooks')}`]);
  } else if (w) rows.push(failedRow(f8, w));

  const a = phases.automations;
  const f11 = (what) => `Automation send → 5 s delay → send, 10,000 contacts enrolled through the API (1 \`api\`, 1 \`worker\`): ${what}`;
  if (a?.ok) {
    const r = a.result;
    const e = r.emails;
    rows.push([f11('completed, each email once'), `${fmt(r.completed)} of ${fmt(r.contacts)} in ${fmt(r.completeSeconds, 1)} s (enrolled in ${fmt(r.enrollSeconds, 1)} s); ${fmt(e.distinctMessages)} emails for ${fmt(e.stepRuns)} send steps, ${fmt(e.sinkDuplicates)} duplicates at the sink`, '—', `${mark(r.eachEmailOnce)}`]);
    rows.push([f11('step lag, due → accepted, p50 / p99'), `${fmt(r.stepLagMs.p50)} / ${fmt(r.stepLagMs.p99)} ms`, '—', `goal p99 < ${r.goals.stepLagP99Ms} ms ${mark(r.stepLagMs.p99 < r.goals.stepLagP99Ms)}`]);
    const u = r.instant.unloaded.latencyMs;
    const l = r.instant.loaded.latencyMs;
    rows.push([f11('instant email p50 / p99 meanwhile'), `${fmt(l.p50)} / ${fmt(l.p99)} ms`, `unloaded: ${fmt(u.p50)} / ${fmt(u.p99)} ms`, `${fmt(r.instant.p99Ratio, 2)}× (goal ≤ ${r.goals.instantLoadedRatio}×) ${mark(r.instant.p99Ratio !== null && r.instant.p99Ratio <= r.goals.instantLoadedRatio)}`]);
  } else if (a) rows.push(failedRow(f11('completion, step lag, instant latency'), a));
  return rows;
}

export function markdown(report) {
  const lines = [];
  const m = report.machine;
  lines.push(`Measured ${report.date} on ${m.cpuModel} (${m.cpus} CPUs), ${fmt(m.totalMemoryGiB, 1)} GiB RAM, Node ${m.node}, ${m.platform}; one \`npm run bench\` run, ${fmt(report.durationSec)} s.`);
  lines.push('');
  lines.push('| figure | keplars-server | baseline | ratio / goal |');
  lines.push('| --- | --- | --- | --- |');
  for (const row of tableRows(report.phases)) lines.push(`| ${row.join(' | ')} |`);
  if (noisySections(report.phases).length > 0) {
    lines.push('');
    lines.push('⚠️ noisy: other processes used more than 10% of the machine while that figure was measured.');
  }
  return lines.join('\n');
}

/** Things worth a look even when the figures are fine: errors, non-2xx answers, duplicates, log warnings. */
const cpuLine = (c) =>
  `${c.wallSec} s wall, machine ${c.machineBusyPct}% busy; CPU-s ${Object.entries(c.cpuSec)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`;

/** CPU seconds used by processes that are not part of the bench, as a share of the machine. */
function background(cpu) {
  if (!cpu || !(cpu.machineBusyPct > 0)) return 0;
  const capacity = cpu.machineBusySec / (cpu.machineBusyPct / 100); // CPU-seconds the machine had
  return (cpu.cpuSec.other + (cpu.cpuSec.steal ?? 0)) / capacity;
}

export function noisySections(phases) {
  const sections = [];
  const add = (label, cpu) => {
    const share = background(cpu);
    if (share > 0.1) sections.push(`${label} (${Math.round(share * 100)}% of the machine went to other processes or was stolen by the hypervisor)`);
  };
  if (phases.throughput.ok) {
    add('throughput/api', phases.throughput.result.server.cpu);
    add('throughput/bare', phases.throughput.result.bare.cpu);
  }
  if (phases.delivery.ok) {
    add('delivery/worker', phases.delivery.result.server.cpu);
    add('delivery/nodemailer', phases.delivery.result.baseline.cpu);
  }
  if (phases.dkim.ok) {
    add('dkim/worker', phases.dkim.result.server.cpu);
    add('dkim/nodemailer', phases.dkim.result.baseline.cpu);
  }
  if (phases.latency.ok) {
    add('latency/no-backlog window', phases.latency.result.baseline.cpu);
    add('latency/backlog window', phases.latency.result.backlog.cpu);
  }
  return sections;
}

export function notes(phases, settleLog = []) {
  const out = [];
  const noisy = noisySections(phases);
  if (noisy.length > 0) out.push(`NOISY: other work on this machine competed with: ${noisy.join('; ')}`);
  for (const s of settleLog) {
    if (!s.quiet) out.push(`${s.section}: the machine stayed busy with other work before it (${s.busyPct.join('%, ')}% CPU in 1 s samples)`);
  }
  const waited = settleLog.reduce((n, s) => n + s.busyPct.length, 0);
  if (waited > settleLog.length) out.push(`waited ${waited - settleLog.length} s in all for a quiet machine before measured sections`);
  // the same log line from several processes is listed once, with every place it came from
  const logLines = new Map();
  const logNote = (where, log) => {
    if (!log || (log.warn === 0 && log.error === 0)) return;
    let key = log.samples[0] ?? '';
    try {
      key = JSON.parse(key).msg ?? key;
    } catch {
      // not JSON: keep the line
    }
    const seen = logLines.get(key) ?? { where: [], sample: log.samples[0] };
    seen.where.push(`${where} (${log.error} error, ${log.warn} warn lines)`);
    logLines.set(key, seen);
  };
  if (phases.throughput.ok) {
    const r = phases.throughput.result;
    for (const [name, x] of [['api', r.server], ['bare http', r.bare]]) {
      if (x.non2xx || x.errors || x.timeouts) out.push(`throughput/${name}: ${x.non2xx} non-2xx, ${x.errors} errors, ${x.timeouts} timeouts (status codes ${JSON.stringify(x.statusCodes)})`);
    }
    out.push(`throughput/api CPU: ${cpuLine(r.server.cpu)}`);
    out.push(`throughput/bare CPU: ${cpuLine(r.bare.cpu)}`);
    out.push(`throughput: api latency p50 ${r.server.latencyMs.p50} ms, p99 ${r.server.latencyMs.p99} ms, max ${r.server.latencyMs.max} ms; bare p50 ${r.bare.latencyMs.p50} ms, p99 ${r.bare.latencyMs.p99} ms`);
    if (typeof r.rowsInDatabase === 'number' && r.rowsInDatabase < r.acceptedByClient) out.push(`throughput: ${r.acceptedByClient} emails answered 200 but only ${r.rowsInDatabase} rows in messages`);
    logNote('throughput/api log', r.serverLog);
  }
  if (phases.delivery.ok) {
    const r = phases.delivery.result;
    out.push(`delivery: rounds, worker/s vs nodemailer/s: ${roundsLine(r)}; the figures below are from the median rounds`);
    out.push(`delivery: worker boot ${r.server.bootMs} ms of ${r.server.elapsedMs} ms total; nodemailer ${r.baseline.elapsedMs} ms; enqueue ran at ${r.server.queued.enqueuePerSecond}/s`);
    out.push(`delivery/worker CPU: ${cpuLine(r.server.cpu)}`);
    if (r.server.postgres) out.push(`delivery/worker PostgreSQL activity: ${JSON.stringify(r.server.postgres)}`);
    out.push(`delivery: arrivals at the sink per 100 ms: worker ${JSON.stringify(r.server.arrivals?.perBucket)} (longest gap ${r.server.arrivals?.maxGapMs} ms), nodemailer ${JSON.stringify(r.baseline.arrivals?.perBucket)} (longest gap ${r.baseline.arrivals?.maxGapMs} ms)`);
    out.push(`delivery: a delivery result waited from the SMTP answer to the start of the transaction recording it: ${JSON.stringify(r.server.resultWaitMs)} ms`);
    out.push(`delivery/nodemailer CPU: ${cpuLine(r.baseline.cpu)}`);
    if (r.server.queued.failures.count) out.push(`delivery: ${r.server.queued.failures.count} enqueue requests failed: ${JSON.stringify(r.server.queued.failures)}`);
    if (r.server.sink.duplicates) out.push(`delivery: the sink received ${r.server.sink.duplicates} duplicate Message-IDs from the worker`);
    logNote('delivery/worker log', r.server.workerLog);
  }
  if (phases.dkim.ok) {
    const r = phases.dkim.result;
    const s = r.server;
    const d = s.domain;
    out.push(`dkim: rounds, signed worker/s vs unsigned nodemailer/s: ${roundsLine(r)}; the figures below are from the median rounds`);
    out.push(`dkim: worker boot ${s.bootMs} ms of ${s.elapsedMs} ms total; nodemailer ${r.baseline.elapsedMs} ms; enqueue ran at ${s.queued.enqueuePerSecond}/s`);
    out.push(`dkim: ${d.records.length} DNS records published (${d.records.map((x) => `${x.purpose} ${x.type}`).join(', ')}); verified (mail_from ${d.mailFromStatus}) after ${d.verifyCalls} verify-domain calls, ${d.verifyMs} ms; selector ${d.dkim.selector}, ${d.dkim.algorithm} ${d.dkim.key_bits} bits`);
    out.push(`dkim: ${s.sink.signed} of ${s.sink.messages} messages at the sink began with DKIM-Signature; the first verifies against the bench DNS: ${s.sampleVerification.result} ${JSON.stringify(s.sampleVerification.detail)}`);
    out.push(`dkim/worker CPU: ${cpuLine(s.cpu)}`);
    const threads = s.workerThreadsCpuSec ?? [];
    const main = threads.find((x) => x.main);
    out.push(`dkim: worker CPU-s per thread: main ${main?.cpuSec ?? '?'}, others ${JSON.stringify(threads.filter((x) => !x.main && x.cpuSec > 0).map((x) => x.cpuSec))} (DKIM_SIGNING_THREADS=${s.signingThreads.setting}, ${s.signingThreads.source})`);
    if (s.postgres) out.push(`dkim/worker PostgreSQL activity: ${JSON.stringify(s.postgres)}`);
    out.push(`dkim: arrivals at the sink per 100 ms: worker ${JSON.stringify(s.arrivals?.perBucket)} (longest gap ${s.arrivals?.maxGapMs} ms), nodemailer ${JSON.stringify(r.baseline.arrivals?.perBucket)} (longest gap ${r.baseline.arrivals?.maxGapMs} ms)`);
    out.push(`dkim/nodemailer CPU: ${cpuLine(r.baseline.cpu)}`);
    if (s.queued.failures.count) out.push(`dkim: ${s.queued.failures.count} enqueue requests failed: ${JSON.stringify(s.queued.failures)}`);
    if (s.sink.duplicates) out.push(`dkim: the sink received ${s.sink.duplicates} duplicate Message-IDs from the worker`);
    logNote('dkim/api log', s.queued.apiLog);
    logNote('dkim/worker log', s.workerLog);
  }
  if (phases.latency.ok) {
    const r = phases.latency.result;
    for (const [name, x] of [['no backlog', r.baseline], ['backlog', r.backlog]]) {
      if (x.rejected || x.notArrived) out.push(`latency/${name}: ${x.rejected} instant requests rejected, ${x.notArrived} accepted but not at the sink after 30 s ${JSON.stringify(x.rejectedSamples)}`);
      out.push(`latency/${name}: HTTP accept p50 ${x.httpAcceptMs.p50} ms, p99 ${x.httpAcceptMs.p99} ms; end-to-end max ${x.latencyMs.max} ms; pacing lag max ${x.maxPacingLagMs} ms`);
    }
    const b = r.backlog;
    out.push(`latency: cold start, the first instant email after the worker's ready line: ${r.baseline.warmup.firstEmailMs} ms with no backlog, ${b.warmup.firstEmailMs} ms with the backlog (10 warm-up emails, not in p50/p99: ${JSON.stringify(r.baseline.warmup.latenciesMs)} / ${JSON.stringify(b.warmup.latenciesMs)} ms)`);
    out.push(`latency/backlog: ${b.bulkDeliveredBeforeMeasuredSeries} bulk delivered before the measured series, ${b.bulkDeliveredByEnd} of ${b.bulkQueued} by its end (${b.bulkStillQueuedAtEnd} still queued, ${b.bulkDeliveredPerSecond}/s since worker spawn); bulk enqueued at ${b.bulkEnqueuePerSecond}/s`);
    if (r.baseline.cpu) out.push(`latency/no backlog CPU during the instant window: ${cpuLine(r.baseline.cpu)}`);
    out.push(`latency/backlog CPU during the instant window: ${cpuLine(b.cpu)}`);
    if (b.postgres) out.push(`latency/backlog PostgreSQL activity, worker spawn to exit: ${JSON.stringify(b.postgres)}`);
    if (b.bulkStillQueuedAtEnd === 0) out.push('latency/backlog: the backlog drained before the instant window ended, so part of the window had no backlog');
    if (r.sink.duplicates) out.push(`latency: the sink received ${r.sink.duplicates} duplicate Message-IDs`);
    logNote('latency/worker (no backlog) log', r.baseline.workerLog);
    logNote('latency/worker (backlog) log', r.backlog.workerLog);
    logNote('latency/api log', r.apiLog);
  }
  if (phases.memory.ok) {
    const r = phases.memory.result;
    const mib = (k) => round(k / 1024, 1);
    out.push(`memory: server RSS = ${mib(r.server.anonKiB)} MiB anonymous + ${mib(r.server.fileKiB)} MiB file-backed + ${mib(r.server.shmemKiB)} MiB shared; peak RSS ${mib(r.server.peakRssKiB)} MiB; exit after SIGTERM ${JSON.stringify(r.server.exitAfterSigterm)}`);
    logNote('memory/start log', r.server.log);
  }
  for (const { where, sample } of logLines.values()) out.push(`server log warnings/errors in ${where.join(', ')}; e.g. ${sample}`);
  return out;
}
