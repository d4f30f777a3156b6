// SMTP sink for the bench, run as its own process so receiving mail never competes with the measuring
// process's event loop. Accepts everything, stamps each message with Date.now() when its data has been
// fully received, and reports [messageId, arrivalMs] pairs to the parent over IPC in batches. It also
// counts the messages that begin with a DKIM-Signature header and keeps the first of them whole, so the
// dkim phase can check that every message was signed and verify one signature.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { SMTPServer } from 'smtp-server';

const FLUSH_MS = 10;
const FLUSH_ITEMS = 500;
const HEADER_LIMIT = 64 * 1024;
/** the kept signed message is dropped past this size */
const SAMPLE_LIMIT = 256 * 1024;
const DKIM_FIRST = /^dkim-signature:/i;

let pending = [];
let flushTimer = null;
let connections = 0;
let messages = 0;
let bytes = 0;
/** messages whose raw data starts with a DKIM-Signature header */
let signed = 0;
/** the first signed message, whole (latin1), for the parent to verify */
let signedSample = null;

function flush() {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = null;
  if (pending.length === 0) return;
  const items = pending;
  pending = [];
  process.send({ type: 'arrivals', items });
}

function record(id, at) {
  messages++;
  pending.push([id, at]);
  if (pending.length >= FLUSH_ITEMS) flush();
  else if (!flushTimer) flushTimer = setTimeout(flush, FLUSH_MS);
}

function messageIdOf(head) {
  const end = head.indexOf('\r\n\r\n');
  const headers = end >= 0 ? head.slice(0, end) : head;
  const match = /^message-id:\s*<([^>\s]+)>/im.exec(headers);
  return match ? match[1] : null;
}

const server = new SMTPServer({
  disabledCommands: ['AUTH', 'STARTTLS'],
  authOptional: true,
  logger: false,
  banner: 'keplars bench sink',
  maxClients: 1000,
  onConnect(_session, callback) {
    connections++;
    callback();
  },
  onData(stream, _session, callback) {
    let head = '';
    let headDone = false;
    /** chunks of a signed message kept as the sample (only while there is none yet) */
    let keep = null;
    let kept = 0;
    stream.on('data', (chunk) => {
      bytes += chunk.length;
      if (head === '' && signedSample === null && DKIM_FIRST.test(chunk.toString('latin1', 0, 15))) keep = [];
      if (keep) {
        keep.push(chunk);
        kept += chunk.length;
        if (kept > SAMPLE_LIMIT) keep = null;
      }
      if (!headDone) {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n') || head.length > HEADER_LIMIT) headDone = true;
      }
    });
    stream.on('end', () => {
      if (DKIM_FIRST.test(head)) signed++;
      if (keep && signedSample === null) signedSample = Buffer.concat(keep).toString('latin1');
      record(messageIdOf(head), Date.now());
      callback();
    });
    stream.on('error', (err) => callback(err));
  },
});

server.on('error', (err) => {
  process.send({ type: 'error', message: err.message });
});

process.on('message', (msg) => {
  if (msg && msg.cmd === 'stats') {
    flush();
    process.send({ type: 'stats', connections, messages, bytes, signed, signedSample });
  } else if (msg && msg.cmd === 'close') {
    flush();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.server.address().port });
});
