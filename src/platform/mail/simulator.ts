import type { Envelope, RecipientOutcome, SendContext, Transport } from './types.js';

/**
 * Addresses that simulate outcomes (README, "Simulator addresses"), in the reserved domain `simulator.invalid`
 * (RFC 2606: `.invalid` never resolves, so such mail could not leave even without this). In every delivery mode the
 * transport answers for them itself, as a receiving server would, and the rest of the pipeline (classification,
 * events, suppression) runs for real:
 *
 * - `delivered@`: accepted.
 * - `bounced@`: refused for good, 550 5.1.1 (unknown mailbox: a hard bounce).
 * - `soft-bounced@`: refused, 552 5.2.2 (mailbox full: a soft bounce at once, no retries to wait for).
 * - `complained@`: accepted; the worker then records a complaint for it (simulatedComplaint).
 * - `suppressed@`: never attempted, as if on the suppression list (simulatedSuppression).
 * - any other local part: accepted, like `delivered@`.
 */
export const SIMULATOR_DOMAIN = 'simulator.invalid';

const SIMULATOR_HOST = 'simulator';

/** The local part of a simulator address, lower case; null for any other address. */
function simulatorLocalPart(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).toLowerCase() !== SIMULATOR_DOMAIN) return null;
  return address.slice(0, at).toLowerCase();
}

export const isSimulatorAddress = (address: string): boolean => simulatorLocalPart(address) !== null;

/** `suppressed@simulator.invalid` is treated as on the list: the delivery worker does not attempt it. */
export const simulatedSuppression = (address: string): boolean => simulatorLocalPart(address) === 'suppressed';

/** `complained@simulator.invalid`: once its delivery is recorded, the worker records a complaint for it. */
export const simulatedComplaint = (address: string): boolean => simulatorLocalPart(address) === 'complained';

function answer(recipient: string): RecipientOutcome {
  switch (simulatorLocalPart(recipient)) {
    case 'bounced':
      return { recipient, status: 'bounced', code: 550, response: '550 5.1.1 simulated bounce: the mailbox does not exist', host: SIMULATOR_HOST };
    case 'soft-bounced':
      return { recipient, status: 'bounced', code: 552, response: '552 5.2.2 simulated bounce: the mailbox is full', host: SIMULATOR_HOST };
    default:
      return { recipient, status: 'accepted', code: 250, response: '250 2.0.0 simulated delivery', host: SIMULATOR_HOST };
  }
}

/**
 * Wraps a transport so simulator recipients are answered here and never reach it; the email's other recipients
 * go to it as usual. Outcomes keep the envelope's order, as the Transport contract says.
 */
export function withSimulator(inner: Transport): Transport {
  return {
    kind: inner.kind,
    async send(envelope: Envelope, raw: Buffer, context?: SendContext): Promise<RecipientOutcome[]> {
      const real = envelope.to.filter((r) => !isSimulatorAddress(r));
      if (real.length === envelope.to.length) return inner.send(envelope, raw, context);
      const sent = real.length > 0 ? await inner.send({ ...envelope, to: real }, raw, context) : [];
      let next = 0;
      return envelope.to.map((r) => (isSimulatorAddress(r) ? answer(r) : sent[next++]!));
    },
    close: () => inner.close(),
  };
}
