// Figure 7: a CSV import of 1,000,000 contacts into PostgreSQL through the API of one spawned `start` process:
// the time from the first byte of the upload to the import's end, the server's RSS growth over its idle RSS
// (sampled every 100 ms), and the longest gap between two writes of the import's progress (its `updated_at`,
// read every 250 ms while it runs, so a gap is over-stated by at most that).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { Readable } from 'node:stream';
import { clearInterval, setInterval } from 'node:timers';
import { finished } from 'node:stream/promises';
import { provision } from '../lib/db.js';
import { runCli, serverEnv, sleep, startServer, stop, waitForReady } from '../lib/processes.js';
import { settle } from '../lib/cpu.js';
import { round } from '../lib/stats.js';

export const SETTINGS = { rows: Number(process.env.BENCH_IMPORT_ROWS ?? 1_000_000), idleMs: 3_000, rssEveryMs: 100, pollMs: 250 };
export const GOALS = { seconds: 300, rssGrowthMiB: 150, progressGapSec: 2 };

async function rssKiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
}

/** The file: every profile column, tags and a custom field; about 110 bytes a row. */
async function writeCsv(file, rows) {
  const out = createWriteStream(file);
  out.write('email,first_name,last_name,company,job_title,phone,tags,plan\n');
  const block = [];
  for (let i = 0; i < rows; i++) {
    block.push(`person${i}@bench.example.test,First${i},Last${i},Company ${i % 1000},Engineer,+1 555 ${String(i).padStart(7, '0')},"news;b${i % 7}",p${i % 3}\n`);
    if (block.length === 10_000) {
      if (!out.write(block.join(''))) await new Promise((r) => out.once('drain', r));
      block.length = 0;
    }
  }
  out.end(block.join(''));
  await finished(out);
}

export async function run({ log }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keplars-bench-import-'));
  try {
    const file = path.join(dir, 'contacts.csv');
    await writeCsv(file, SETTINGS.rows);
    const bytes = (await stat(file)).size;
    log(`${SETTINGS.rows.toLocaleString('en-US')} rows, ${round(bytes / 1024 ** 2, 1)} MiB`);

    const db = await provision('import');
    const env = serverEnv({ DATABASE_URL: db.url, PORT: '0' });
    const admin = JSON.parse(await runCli(['admin-key', 'create', '--workspace', db.workspaceId, '--scopes', 'contacts:read,contacts:write', '--json'], env));
    await settle('import/start');
    const server = startServer('start (import)', 'start', env);
    try {
      const { url } = await waitForReady(server, 60_000);
      await sleep(SETTINGS.idleMs);
      const idleKiB = await rssKiB(server.pid);
      let peakKiB = idleKiB;
      const sampler = setInterval(() => {
        rssKiB(server.pid).then((k) => (peakKiB = Math.max(peakKiB, k)), () => undefined);
      }, SETTINGS.rssEveryMs);
      try {
        const auth = { authorization: `Bearer ${admin.secret_key}` };
        const t0 = Date.now();
        const res = await globalThis.fetch(`${url}/api/v1/public/contacts/import`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'text/csv' },
          body: Readable.toWeb(createReadStream(file)),
          duplex: 'half',
        });
        const accepted = await res.json();
        if (res.status !== 202) throw new Error(`import answered ${res.status}: ${JSON.stringify(accepted)}`);
        const uploadSec = (Date.now() - t0) / 1000;
        const uploadPeakKiB = peakKiB;
        log(`uploaded in ${round(uploadSec, 1)} s`);
        let last = null;
        let longestGapMs = 0;
        let view;
        for (;;) {
          const r = await globalThis.fetch(accepted.data.status_url, { headers: auth });
          view = (await r.json()).data;
          const at = Date.parse(view.updated_at);
          if (view.status === 'running' || view.status === 'completed' || view.status === 'failed') {
            const from = last ?? Date.parse(view.started_at ?? view.updated_at);
            if (at > from) longestGapMs = Math.max(longestGapMs, at - from);
            if (at > (last ?? 0)) last = at;
          }
          if (view.status === 'completed' || view.status === 'failed') break;
          if (Date.now() - t0 > 15 * 60_000) throw new Error(`import still ${view.status} after 15 minutes: ${JSON.stringify(view).slice(0, 300)}`);
          await sleep(SETTINGS.pollMs);
        }
        const seconds = (Date.parse(view.finished_at) - t0) / 1000;
        if (view.status !== 'completed' || view.created !== SETTINGS.rows || view.failed !== 0) throw new Error(`import ended ${view.status}: ${JSON.stringify(view).slice(0, 500)}`);
        return {
          settings: SETTINGS,
          goals: GOALS,
          bytes,
          rows: SETTINGS.rows,
          seconds: round(seconds, 1),
          uploadSec: round(uploadSec, 1),
          importSec: round((Date.parse(view.finished_at) - Date.parse(view.started_at)) / 1000, 1),
          rowsPerSecond: round(SETTINGS.rows / seconds),
          idleRssMiB: round(idleKiB / 1024, 1),
          peakRssMiB: round(peakKiB / 1024, 1),
          rssGrowthMiB: round((peakKiB - idleKiB) / 1024, 1),
          uploadRssGrowthMiB: round((uploadPeakKiB - idleKiB) / 1024, 1),
          endRssMiB: round((await rssKiB(server.pid)) / 1024, 1),
          longestProgressGapSec: round(longestGapMs / 1000, 2),
          counts: { created: view.created, updated: view.updated, skipped: view.skipped, failed: view.failed },
          log: server.problems,
        };
      } finally {
        clearInterval(sampler);
      }
    } finally {
      await stop(server, 15_000);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
