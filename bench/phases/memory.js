// Figure 4: idle RSS of `keplars-server start` on the embedded default (fresh DATA_DIR, PGlite, capture
// delivery), read from /proc 5 s after ready, next to an idle bare node; plus first-boot time to ready
// next to a bare node's time to its first line of output.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { serverEnv, sleep, start, startServer, stop, waitForLine, waitForReady } from '../lib/processes.js';
import { settle } from '../lib/cpu.js';
import { round } from '../lib/stats.js';

export const SETTINGS = { idleMs: 5_000 };

async function memoryOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : null;
  };
  return { rssKiB: kib('VmRSS'), peakRssKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile'), shmemKiB: kib('RssShmem') };
}

export async function run() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'keplars-bench-'));
  try {
    await settle('memory/start');
    const spawnedAt = Date.now();
    const server = startServer('start (embedded)', 'start', serverEnv({ DATA_DIR: dataDir, PORT: '0' }));
    let serverMem;
    let bootMs;
    try {
      const ready = await waitForReady(server, 120_000);
      bootMs = ready.at - spawnedAt;
      await sleep(SETTINGS.idleMs);
      serverMem = await memoryOf(server.pid);
    } finally {
      await stop(server, 15_000);
    }
    const serverExit = { code: server.exitCode, signal: server.exitSignal };

    const bareSpawnedAt = Date.now();
    const bare = start('bare node', process.execPath, ['-e', "console.log('ready'); setInterval(() => {}, 1000)"], { env: { ...process.env } });
    let bareMem;
    let bareBootMs;
    try {
      const ready = await waitForLine(bare, (line) => line === 'ready', 15_000, 'ready');
      bareBootMs = ready.at - bareSpawnedAt;
      await sleep(SETTINGS.idleMs);
      bareMem = await memoryOf(bare.pid);
    } finally {
      await stop(bare);
    }
    return {
      settings: SETTINGS,
      server: { ...serverMem, rssMiB: round(serverMem.rssKiB / 1024, 1), firstBootMs: bootMs, exitAfterSigterm: serverExit, log: server.problems },
      baseline: { ...bareMem, rssMiB: round(bareMem.rssKiB / 1024, 1), bootMs: bareBootMs },
      ratio: round(serverMem.rssKiB / bareMem.rssKiB, 2),
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
