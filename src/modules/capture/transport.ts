import type { Db } from '../../platform/db/database.js';
import { uuidv7 } from '../../platform/ids.js';
import type { Envelope, RecipientOutcome, SendContext, Transport } from '../../platform/mail/types.js';
import { insertCaptured } from './store.js';

/** The development default: nothing leaves the machine; the exact bytes are kept for reading through the API. */
export function createCaptureTransport(db: Db): Transport {
  return {
    kind: 'capture',
    async send(envelope: Envelope, raw: Buffer, context?: SendContext): Promise<RecipientOutcome[]> {
      if (!context) throw new Error('capture transport needs the message context');
      await insertCaptured(db, {
        id: uuidv7(),
        messageId: context.messageId,
        workspaceId: context.workspaceId,
        envelopeFrom: envelope.from,
        envelopeTo: envelope.to,
        subject: context.subject,
        raw,
      });
      return envelope.to.map((recipient) => ({ recipient, status: 'accepted', code: 250, response: '250 captured (not sent: capture mode)', host: 'capture' }));
    },
    async close() {},
  };
}
