// Parent side of the SMTP sink child: starts it and keeps the arrivals it reports.
import path from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { startModule, stop, waitForMessage } from './processes.js';

const SINK_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sink-child.js');

export async function startSink(name = 'smtp-sink') {
  const entry = startModule(name, SINK_CHILD);
  const { port } = await waitForMessage(entry, 'ready', 15_000);

  /**
   * Message-ID local part (for the server: the email id, from `<${id}@domain>`) -> first arrival
   * (ms since epoch, the sink's Date.now())
   */
  const arrivals = new Map();
  const state = { total: 0, duplicates: 0, withoutId: 0 };
  /** arrival time of each distinct message, in arrival order */
  const order = [];
  const completedAt = (count) => order[count - 1];

  entry.child.on('message', (msg) => {
    if (!msg || msg.type !== 'arrivals') return;
    for (const [messageId, at] of msg.items) {
      state.total++;
      const id = messageId === null || !messageId.includes('@') ? messageId : messageId.slice(0, messageId.lastIndexOf('@'));
      if (id === null) state.withoutId++;
      else if (arrivals.has(id)) state.duplicates++;
      else {
        arrivals.set(id, at);
        order.push(at);
      }
    }
  });

  const sink = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    entry,
    arrivals,
    state,
    /** arrival time of each distinct message, in arrival order */
    arrivalTimes: order,
    /** distinct Message-IDs received so far */
    get unique() {
      return arrivals.size;
    },
    /**
     * Resolves when `count` distinct messages have arrived, with the sink's timestamp of the arrival that
     * completed the count. Rejects after `timeoutMs`, or when nothing new arrived for `stallMs`.
     */
    async waitForUnique(count, timeoutMs, stallMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let seen = arrivals.size;
      let progressAt = Date.now();
      while (arrivals.size < count) {
        const now = Date.now();
        if (arrivals.size !== seen) {
          seen = arrivals.size;
          progressAt = now;
        }
        if (now > deadline) throw new Error(`sink: only ${arrivals.size} of ${count} messages after ${timeoutMs} ms`);
        if (now - progressAt > stallMs) throw new Error(`sink: stalled at ${arrivals.size} of ${count} messages (nothing new for ${stallMs} ms)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return completedAt(count);
    },
    /** Resolves when every id in `ids` has arrived (or after `timeoutMs`, with whatever arrived). */
    async waitForIds(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (ids.every((id) => arrivals.has(id))) return true;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return ids.every((id) => arrivals.has(id));
    },
    async stats() {
      const reply = waitForMessage(entry, 'stats', 5_000);
      entry.child.send({ cmd: 'stats' });
      return reply;
    },
    async close() {
      if (!entry.exited) {
        entry.stopRequestedAt ??= Date.now();
        try {
          entry.child.send({ cmd: 'close' });
        } catch {
          // channel already closed
        }
        const t = setTimeout(() => void stop(entry, 2_000), 3_000);
        await entry.exitPromise;
        clearTimeout(t);
      }
    },
  };
  return sink;
}
