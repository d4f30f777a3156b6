// Peak memory of `keplars-server start` (embedded, fresh DATA_DIR) while six large sends arrive at once:
// each a ~39 MB JSON body carrying one 28.5 MiB attachment (just inside the 40 MB message cap). Not part of
// `npm run bench`: run `npm run build && node bench/large-bodies.js` (LARGE_BODIES_ENV='{"SEND_BODY_BUDGET_MB":"256"}'
// adds settings). Prints JSON: the answers, RSS before, the highest RSS sampled (every 20 ms) until the last
// answer, and the process's peak RSS (VmHWM) 5 s later, delivery of the six included.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { runCli, serverEnv, sleep, startServer, stop, waitForReady } from './lib/processes.js';

const { fetch } = globalThis;
const CONCURRENT = 6;
const ATTACHMENT_BYTES = Math.floor(28.5 * 1024 * 1024);

async function memoryOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const mib = (field) => Math.round(Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)[1]) / 102.4) / 10;
  return { rssMiB: mib('VmRSS'), peakMiB: mib('VmHWM') };
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'keplars-large-bodies-'));
const env = serverEnv({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', ...JSON.parse(process.env.LARGE_BODIES_ENV ?? '{}') });
let server;
try {
  const created = JSON.parse(await runCli(['workspace', 'create', '--name', 'Large bodies', '--plan', 'ENTERPRISE', '--json'], env));
  server = startServer('start (embedded)', 'start', { ...env, LOG_LEVEL: 'info' });
  const { url } = await waitForReady(server, 120_000);
  await sleep(3_000);
  const before = await memoryOf(server.pid);
  const body = JSON.stringify({
    to: 'someone@example.test',
    subject: 'large',
    text: 'see attachment',
    attachments: [{ filename: 'large.bin', content: randomBytes(ATTACHMENT_BYTES).toString('base64') }],
  });
  let sampledMiB = before.rssMiB;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      sampledMiB = Math.max(sampledMiB, (await memoryOf(server.pid)).rssMiB);
      await sleep(20);
    }
  })();
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      const res = await fetch(`${url}/api/v1/send-email/async`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.secret_key}`, 'content-type': 'application/json' },
        body,
      });
      const text = await res.text();
      return { status: res.status, code: res.ok ? null : JSON.parse(text).code, ms: Date.now() - started };
    }),
  );
  sampling = false;
  await sampler;
  await sleep(5_000);
  const after = await memoryOf(server.pid);
  console.log(
    JSON.stringify(
      {
        bodyMiB: Math.round(body.length / 104857.6) / 10,
        concurrent: CONCURRENT,
        settings: JSON.parse(process.env.LARGE_BODIES_ENV ?? '{}'),
        answers,
        rssBeforeMiB: before.rssMiB,
        maxRssUntilLastAnswerMiB: sampledMiB,
        peakRssIncludingDeliveryMiB: after.peakMiB,
      },
      null,
      2,
    ),
  );
} finally {
  if (server) await stop(server, 15_000);
  await rm(dataDir, { recursive: true, force: true });
}
