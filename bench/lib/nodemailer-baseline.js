// The baseline of the delivery figures: plain nodemailer, pooled, TCP_NODELAY, sending N messages to a sink.
import net from 'node:net';
import nodemailer from 'nodemailer';
import { settle, startCpu } from './cpu.js';
import { withTimeout } from './processes.js';
import { startSink } from './sink.js';
import { steadiness } from './stats.js';

/** `label` names the sink and the settle step; `email` is {from, to, subject, body}. */
export async function nodemailerDelivery({ n, label, email, maxConnections, timeoutMs }) {
  const sink = await startSink(`smtp-sink (${label} nodemailer)`);
  await settle(`${label}/nodemailer`);
  const transport = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port: sink.port,
    secure: false,
    maxConnections,
    logger: false,
    // the server's relay transport disables Nagle the same way; without it each message on a reused
    // connection waits ~40 ms for a delayed ACK on loopback
    getSocket: (_options, callback) => callback(null, { connection: net.connect({ host: '127.0.0.1', port: sink.port, noDelay: true }) }),
  });
  try {
    const cpu = startCpu({ sink: sink.entry });
    const startedAt = Date.now();
    const sends = [];
    let failed = 0;
    const samples = [];
    for (let i = 0; i < n; i++) {
      sends.push(
        transport.sendMail({ from: email.from, to: email.to, subject: email.subject, html: email.body }).catch((err) => {
          failed++;
          if (samples.length < 3) samples.push(err.message);
        }),
      );
    }
    await withTimeout(Promise.all(sends), timeoutMs, 'nodemailer sends');
    if (failed > 0) throw new Error(`nodemailer baseline: ${failed} of ${n} sends failed: ${samples.join('; ')}`);
    const doneAt = await sink.waitForUnique(n, 10_000);
    const cpuUsed = cpu();
    const sinkStats = await sink.stats();
    return {
      arrivals: steadiness(sink.arrivalTimes),
      elapsedMs: doneAt - startedAt,
      perSecond: n / ((doneAt - startedAt) / 1000),
      failed,
      failureSamples: samples,
      cpu: cpuUsed,
      sink: { ...sink.state, smtpConnections: sinkStats.connections, signed: sinkStats.signed },
    };
  } finally {
    transport.close();
    await sink.close();
  }
}
