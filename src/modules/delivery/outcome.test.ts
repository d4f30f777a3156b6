import { describe, expect, it } from 'vitest';
import type { MessageRow } from '../../platform/db/schema.js';
import type { AttemptOutcome } from '../../platform/lifecycle.js';
import { decideCompletion } from './outcome.js';
import type { ClaimedMessage } from './store.js';

/** A claimed message on its `attempts`-th attempt of at most 4 (the high tier). */
const message = (attempts: number): ClaimedMessage => ({ id: 'msg_1', tier: 'high', attempts, max_attempts: 4, recipients: [] }) as Partial<MessageRow> as ClaimedMessage;

const outcome = (recipient: string, status: AttemptOutcome, code: number | null) => ({ recipient, status, code, response: `${code ?? 'no reply'}`, host: 'mx.example.test', position: 0 });

const decide = (attempts: number, transport: string, outcomes: ReturnType<typeof outcome>[], previouslyDelivered = 0, suppressed: { position: number; email: string; reason: string }[] = []) =>
  decideCompletion({ message: message(attempts), workerId: 'w', transport, outcomes, previouslyDelivered, suppressed, retryBaseMs: 10, now: new Date(0) });
const suppressedOne = (email: string) => ({ position: 9, email, reason: 'unsubscribe' });

describe('decideCompletion', () => {
  it('calls a recipient the relay took sent, and one its own server (or capture) took delivered', () => {
    expect(decide(1, 'smtp', [outcome('a@x.test', 'accepted', 250)])).toMatchObject({ status: 'sent', recipients: [{ status: 'sent' }] });
    expect(decide(1, 'mx', [outcome('a@x.test', 'accepted', 250)])).toMatchObject({ status: 'delivered', recipients: [{ status: 'delivered' }] });
    expect(decide(1, 'capture', [outcome('a@x.test', 'accepted', 250)])).toMatchObject({ status: 'delivered', recipients: [{ status: 'delivered' }] });
  });

  it('bounces a permanent refusal at once, with a bounced event for the email nobody received', () => {
    const c = decide(1, 'mx', [outcome('a@x.test', 'bounced', 550)]);
    expect(c).toMatchObject({ status: 'bounced', nextAttemptAt: null, recipients: [{ status: 'bounced' }] });
    expect(c.events.map((e) => e.type)).toEqual(['bounced']);
  });

  it('defers a temporary failure while retries remain, and fails it when they ran out', () => {
    expect(decide(3, 'mx', [outcome('a@x.test', 'deferred', 451)])).toMatchObject({ status: 'deferred', recipients: [{ status: 'deferred' }] });
    const last = decide(4, 'mx', [outcome('a@x.test', 'deferred', 451)]);
    expect(last).toMatchObject({ status: 'failed', recipients: [{ status: 'failed', response: '451 (gave up after 4 attempts)' }] });
    expect(last.events.map((e) => e.type)).toEqual(['failed']);
  });

  it('settles mixed endings by the rule in the README: deferred, then accepted, then failed, then bounced', () => {
    const all = [outcome('a@x.test', 'accepted', 250), outcome('b@x.test', 'bounced', 550), outcome('c@x.test', 'deferred', 451)];
    expect(decide(1, 'smtp', all).status).toBe('deferred');
    expect(decide(4, 'smtp', all)).toMatchObject({ status: 'sent', recipients: [{ status: 'sent' }, { status: 'bounced' }, { status: 'failed' }], events: [] });
    // accepted by an earlier attempt: the last one's failure does not undo it
    expect(decide(4, 'mx', [outcome('c@x.test', 'deferred', 451)], 1)).toMatchObject({ status: 'delivered', recipients: [{ status: 'failed' }] });
    expect(decide(4, 'mx', [outcome('b@x.test', 'bounced', 550), outcome('c@x.test', 'deferred', 451)]).status).toBe('failed');
    expect(decide(4, 'mx', [outcome('b@x.test', 'bounced', 550), outcome('d@x.test', 'bounced', 554)]).status).toBe('bounced');
  });

  it('records suppressed recipients as not attempted, and calls the email suppressed only when nobody else was tried', () => {
    const all = decide(1, 'mx', [], 0, [suppressedOne('s@x.test')]);
    expect(all).toMatchObject({ status: 'suppressed', failedAt: null, sentAt: null, events: [], recipients: [{ status: 'suppressed', code: null, host: null, detail: { reason: 'unsubscribe', scope: 'all' } }] });
    expect(all.recipients[0]!.response).toContain('suppression list');
    expect(decide(1, 'mx', [outcome('a@x.test', 'accepted', 250)], 0, [suppressedOne('s@x.test')])).toMatchObject({ status: 'delivered', recipients: [{ status: 'delivered' }, { status: 'suppressed' }] });
    expect(decide(1, 'mx', [outcome('a@x.test', 'deferred', 451)], 0, [suppressedOne('s@x.test')]).status).toBe('deferred');
    expect(decide(1, 'mx', [outcome('a@x.test', 'bounced', 550)], 0, [suppressedOne('s@x.test')]).status).toBe('bounced');
    // accepted by an earlier attempt, suppressed since: the email keeps its delivery
    expect(decide(2, 'mx', [], 1, [suppressedOne('s@x.test')]).status).toBe('delivered');
    // bounced in an earlier attempt, the rest suppressed since: the email bounced
    const earlier = decideCompletion({ message: message(2), workerId: 'w', transport: 'mx', outcomes: [], previouslyDelivered: 0, suppressed: [suppressedOne('s@x.test')], earlier: ['bounced'], retryBaseMs: 10, now: new Date(0) });
    expect(earlier).toMatchObject({ status: 'bounced', events: [{ type: 'bounced' }] });
  });

  it('classifies a bounced or failed recipient by its last answer, and leaves accepted and deferred ones unclassified', () => {
    const answer = (recipient: string, status: AttemptOutcome, code: number | null, response: string) => ({ recipient, status, code, response, host: 'mx.example.test', position: 0 });
    const c = decide(4, 'mx', [
      answer('a@x.test', 'bounced', 550, '550 5.1.1 no such user'),
      answer('b@x.test', 'deferred', 452, '452 4.2.2 mailbox full'),
      answer('c@x.test', 'deferred', null, 'connect ECONNREFUSED'),
      answer('d@x.test', 'accepted', 250, '250 ok'),
    ]);
    expect(c.recipients.map((r) => r.bounce?.type ?? null)).toEqual(['hard', 'soft', 'undetermined', null]);
    expect(c.recipients[0]!.detail).toEqual({ bounce_type: 'hard', bounce_reason: '550 5.1.1 no such user', code: '5.1.1' });
    // the receiver's answer, without our note on the retries (the recipient's response has that)
    expect(c.recipients[1]!.bounce!.reason).toBe('452 4.2.2 mailbox full');
    expect(decide(1, 'mx', [answer('b@x.test', 'deferred', 452, '452 4.2.2 mailbox full')]).recipients[0]!.bounce).toBeUndefined();
    // the stored reason is bounded whatever a receiver sends
    expect(decide(1, 'mx', [answer('a@x.test', 'bounced', 550, `550 ${'x'.repeat(10_000)}`)]).recipients[0]!.bounce!.reason).toHaveLength(1_000);
  });
});
