// `npm run bench`: measures keplars-server next to a baseline for each figure, in one run, on this
// machine. Prints a Markdown table and writes bench/results/latest.json. Exits non-zero if a phase failed.
//
// Every server, sink and baseline runs as a child process on 127.0.0.1 and is killed on exit; the
// PostgreSQL databases it creates (keplars_bench_<random>_<phase>) are dropped at the end.
// BENCH_PHASES=throughput,delivery,dkim,latency,memory,import,webhooks,automations runs only some phases (for working on the bench).
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { settleLog } from './lib/cpu.js';
import { dropAll } from './lib/db.js';
import { killAllNow, ROOT, stopAll, unexpectedExits } from './lib/processes.js';
import { markdown, notes } from './lib/report.js';
import { round } from './lib/stats.js';
import * as delivery from './phases/delivery.js';
import * as dkim from './phases/dkim.js';
import * as contactImport from './phases/import.js';
import * as latency from './phases/latency.js';
import * as memory from './phases/memory.js';
import * as throughput from './phases/throughput.js';
import * as webhooks from './phases/webhooks.js';
import * as automations from './phases/automations.js';

const PHASES = { throughput, delivery, dkim, latency, memory, import: contactImport, webhooks, automations };
/** The whole run normally takes 8–14 minutes (automations and webhooks included); past this something is stuck. */
const HARD_LIMIT_MS = 25 * 60_000;
const RESULTS = path.join(ROOT, 'bench', 'results', 'latest.json');

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    await stopAll(5_000).catch((err) => log(`stopping children: ${err.message}`));
    const failures = await dropAll().catch((err) => [err.message]);
    for (const f of failures) log(`could not drop database ${f}`);
  })();
  return cleaning;
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on('unhandledRejection', (err) => {
  log(`unhandled rejection: ${err instanceof Error ? err.stack : String(err)}`);
});

async function main() {
  const startedAt = Date.now();
  const hardLimit = setTimeout(() => {
    log(`still running after ${HARD_LIMIT_MS / 1000} s: giving up`);
    void cleanup().finally(() => process.exit(2));
  }, HARD_LIMIT_MS);
  hardLimit.unref();

  const cpus = os.cpus();
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpuModel: cpus[0]?.model ?? 'unknown',
      cpus: cpus.length,
      totalMemoryGiB: round(os.totalmem() / 1024 ** 3, 1),
      node: process.version,
      platform: `${os.type()} ${os.release()}`,
    },
    durationSec: null,
    phases: {},
    notes: [],
  };

  const only = process.env.BENCH_PHASES ? process.env.BENCH_PHASES.split(',').map((s) => s.trim()) : null;
  for (const [name, phase] of Object.entries(PHASES)) {
    if (only && !only.includes(name)) {
      report.phases[name] = { ok: false, skipped: true, seconds: 0, error: 'skipped (BENCH_PHASES)' };
      continue;
    }
    const t0 = Date.now();
    log(`${name}: start`);
    try {
      report.phases[name] = { ok: true, seconds: null, result: await phase.run({ log: (msg) => log(`${name}: ${msg}`) }) };
      log(`${name}: done in ${round((Date.now() - t0) / 1000, 1)} s`);
    } catch (err) {
      report.phases[name] = { ok: false, seconds: null, error: err instanceof Error ? err.message : String(err) };
      log(`${name}: FAILED after ${round((Date.now() - t0) / 1000, 1)} s: ${report.phases[name].error}`);
    }
    report.phases[name].seconds = round((Date.now() - t0) / 1000, 1);
    // nothing from one phase may run into the next
    await stopAll(5_000);
  }

  await cleanup();
  clearTimeout(hardLimit);
  report.durationSec = round((Date.now() - startedAt) / 1000, 1);
  report.quietBeforeSections = settleLog;
  report.unexpectedExits = unexpectedExits();
  report.notes = notes(report.phases, settleLog);
  for (const u of report.unexpectedExits) {
    report.notes.push(`UNEXPECTED: ${u.name} [pid ${u.pid}] stopped without the bench asking: exit ${JSON.stringify(u.exit)}, shutdowns ${JSON.stringify(u.shutdowns)}; last output: ${u.lastOutput.join(' / ').slice(0, 600)}`);
  }
  report.markdown = markdown(report);

  await mkdir(path.dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`);

  process.stdout.write(`\n${report.markdown}\n\n`);
  if (report.notes.length > 0) process.stdout.write(`Notes:\n${report.notes.map((n) => `- ${n}`).join('\n')}\n\n`);
  const failed = Object.entries(report.phases).filter(([, p]) => !p.ok && !p.skipped);
  for (const [name, p] of failed) process.stdout.write(`Phase ${name} FAILED:\n${p.error}\n\n`);
  process.stdout.write(`Results: ${path.relative(process.cwd(), RESULTS)}\n`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    // stdout is written synchronously on pipes and files; exit now rather than wait on a stray handle
    process.exit(code);
  },
  async (err) => {
    log(`crashed: ${err instanceof Error ? err.stack : String(err)}`);
    await cleanup();
    process.exit(1);
  },
);
