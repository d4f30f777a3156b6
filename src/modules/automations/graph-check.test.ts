import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../platform/http/errors.js';
import type { Graph, Step } from './graph.js';
import { graphProblems, parseSteps, referencesOf, workspaceProblems } from './graph-check.js';

const send = (id: string, next?: string): Step => ({ id, type: 'send_email', template_id: 't1', from: 'news@example.com', tier: 'bulk', ...(next ? { next } : {}) });
const delay = (id: string, next?: string): Step => ({ id, type: 'delay', amount: 1, unit: 'days', ...(next ? { next } : {}) });
const tag = (id: string, next?: string): Step => ({ id, type: 'action', action: { kind: 'add_tag', tag: 'x' }, ...(next ? { next } : {}) });
const opened = (id: string, step: string, onTrue?: string, onFalse?: string): Step => ({
  id,
  type: 'condition',
  condition: { kind: 'email_opened', step },
  ...(onTrue ? { on_true: onTrue } : {}),
  ...(onFalse ? { on_false: onFalse } : {}),
});
const messages = (steps: Step[]) => graphProblems({ steps }).map((p) => p.message);

/** The message of the ApiError `fn` throws. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('VALIDATION_ERROR');
    return (err as ApiError).message;
  }
  throw new Error('not refused');
}

describe('graphProblems', () => {
  it('accepts the welcome series: send, wait, if not opened send a reminder', () => {
    expect(messages([send('welcome', 'wait'), delay('wait', 'check'), opened('check', 'welcome', undefined, 'remind'), send('remind')])).toEqual([]);
  });

  it('names a next that is not a step, and the branch field', () => {
    expect(messages([send('a', 'remind'), send('remind', 'nope')])).toEqual(["Step 'remind': next 'nope' is not a step"]);
    expect(messages([opened('c', 'c', 'gone')])).toContain("Step 'c': on_true 'gone' is not a step");
  });

  it('names duplicate ids and steps that cannot be reached', () => {
    expect(messages([send('a'), tag('a')])).toEqual(["Step 'a': another step has the same id"]);
    expect(messages([send('a'), tag('island')])).toEqual(["Step 'island': cannot be reached from the entry step 'a'"]);
  });

  it('refuses a loop without a delay, and accepts one with a delay in it', () => {
    expect(messages([send('a', 'b'), tag('b', 'a')])).toEqual(["Step 'a': loops back through 'a' → 'b' → 'a' with no delay step in the loop"]);
    expect(messages([tag('a', 'a')])).toEqual(["Step 'a': next goes back to the step itself without a delay"]);
    expect(messages([send('a', 'w'), delay('w', 'a')])).toEqual([]);
    expect(messages([delay('w', 'w')])).toEqual([]);
    const until: Step = { id: 'u', type: 'delay', until: '2026-01-01T00:00:00Z', next: 'a' };
    expect(messages([send('a', 'u'), until])).toEqual(["Step 'a': loops back through 'a' → 'u' → 'a' with no delay step in the loop (a delay `until` a fixed time waits once only)"]);
  });

  it('a condition on an email names a send_email step that can come before it', () => {
    expect(messages([tag('t', 'c'), opened('c', 't')])).toEqual(["Step 'c': condition looks at 't', which is an action step, not a send_email step"]);
    expect(messages([opened('c', 'later', 'later'), send('later')])).toEqual(["Step 'c': condition looks at 'later', which cannot come before it"]);
    expect(messages([opened('c', 'nope')])).toEqual(["Step 'c': condition looks at 'nope', which is not a step"]);
  });

  it('property: a chain of steps, whatever their types, is a valid graph; closing it into a loop is valid only with a delay in it', () => {
    const kinds = fc.array(fc.constantFrom('send', 'delay', 'tag'), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(kinds, fc.boolean(), (types, loop) => {
        const ids = types.map((_, i) => `s${i}`);
        const steps = types.map((t, i) => {
          const next = i + 1 < ids.length ? ids[i + 1] : loop ? ids[0] : undefined;
          return t === 'send' ? send(ids[i]!, next) : t === 'delay' ? delay(ids[i]!, next) : tag(ids[i]!, next);
        });
        const problems = graphProblems({ steps });
        const expectValid = !loop || types.includes('delay');
        expect(problems.length === 0, JSON.stringify({ types, loop, problems })).toBe(expectValid);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseSteps', () => {
  it('names the step and its field when a step does not match its type', () => {
    expect(refusal(() => parseSteps([{ id: 'welcome', type: 'send_email', from: 'a@b.c' }]))).toBe("Step 'welcome': Field 'template_id' is required");
    expect(refusal(() => parseSteps([{ id: 'w', type: 'delay', amount: 2 }]))).toBe("Step 'w': a delay has either `amount` and `unit`, or `until`");
    expect(refusal(() => parseSteps([{ id: 'x', type: 'teleport' }]))).toBe("Step 'x': 'type' must be one of send_email, delay, condition, action, exit");
    expect(refusal(() => parseSteps(['nonsense']))).toBe("Step 1: 'type' must be one of send_email, delay, condition, action, exit");
    expect(refusal(() => parseSteps([]))).toBe("Field 'steps' must hold at least one step (the first is the entry)");
  });

  it('applies the step defaults', () => {
    expect(parseSteps([{ id: 'a', type: 'send_email', template_id: 't', from: 'a@b.c' }])[0]).toMatchObject({ tier: 'bulk' });
  });
});

describe('workspaceProblems', () => {
  it('names the first step using a missing template, a refused sender, and a missing audience (the trigger too)', async () => {
    const g: Graph = { steps: [send('a', 'b'), { id: 'b', type: 'action', action: { kind: 'subscribe', audience_id: 'aud-x' } }] };
    const problems = await workspaceProblems(referencesOf(g, { type: 'contact_added_to_audience', config: { audience_id: 'aud-y' } }), {
      templateExists: (id) => Promise.resolve(id !== 't1'),
      audienceExists: () => Promise.resolve(false),
      senderRefusal: () => Promise.resolve('Domain example.com is not a verified domain of this workspace'),
    });
    expect(problems.map((p) => p.message)).toEqual([
      "Step 'a': template 't1' was not found in this workspace",
      "Step 'a': this workspace may not send from news@example.com: Domain example.com is not a verified domain of this workspace",
      "Step 'b': audience 'aud-x' was not found in this workspace",
      "Trigger: audience 'aud-y' was not found in this workspace",
    ]);
  });
});
