import type { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import { issueMessage } from '../../platform/http/validation-message.js';
import { actionStep, conditionStep, delayStep, exitStep, MAX_STEPS, sendEmailStep, type Graph, type Step, type Trigger } from './graph.js';

/**
 * What a graph must be beyond its schema (README, "Automations"): checked when it is saved and again when the
 * automation is activated, each complaint naming the step (`Step 'remind': next 'nope' is not a step`).
 * The pure checks are here; the workspace checks (templates, senders, audiences) take the lookups they need.
 */

export interface GraphProblem {
  /** the step complained about; null for the trigger or the graph as a whole */
  step: string | null;
  message: string;
}

const STEP_SCHEMAS: Record<Step['type'], z.ZodType<Step>> = {
  send_email: sendEmailStep,
  delay: delayStep,
  condition: conditionStep,
  action: actionStep,
  exit: exitStep,
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A step's name in a complaint: its id when it has a usable one, else its place in the list. */
const label = (raw: unknown, index: number): string => {
  const id = isRecord(raw) ? raw.id : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? `Step '${id}'` : `Step ${index + 1}`;
};

/**
 * Parses the steps one by one with the schema of their `type`, so a complaint names the step and its field
 * rather than "steps[3] has an unsupported shape" (the schema of all steps is a union).
 */
export function parseSteps(raw: readonly unknown[]): Step[] {
  if (raw.length === 0) throw new ApiError('VALIDATION_ERROR', "Field 'steps' must hold at least one step (the first is the entry)");
  if (raw.length > MAX_STEPS) throw new ApiError('VALIDATION_ERROR', `Field 'steps' must hold at most ${MAX_STEPS} steps`);
  return raw.map((item, index) => {
    const type = isRecord(item) ? item.type : undefined;
    const schema = typeof type === 'string' && Object.hasOwn(STEP_SCHEMAS, type) ? STEP_SCHEMAS[type as Step['type']] : undefined;
    if (!schema) {
      throw new ApiError('VALIDATION_ERROR', `${label(item, index)}: 'type' must be one of ${Object.keys(STEP_SCHEMAS).join(', ')}`, { details: { step: index } });
    }
    const parsed = schema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      // a complaint about the step as a whole (a delay's refine) reads as it is
      const what = issue.path.length > 0 ? issueMessage(issue) : issue.message;
      throw new ApiError('VALIDATION_ERROR', `${label(item, index)}: ${what}`, { details: { step: index } });
    }
    return parsed.data;
  });
}

/** The steps a step can go to next, with the field that names each. */
export function exitsOf(s: Step): { field: 'next' | 'on_true' | 'on_false'; to: string }[] {
  const out: { field: 'next' | 'on_true' | 'on_false'; to: string }[] = [];
  if (s.type === 'condition') {
    if (s.on_true) out.push({ field: 'on_true', to: s.on_true });
    if (s.on_false) out.push({ field: 'on_false', to: s.on_false });
  } else if (s.type !== 'exit' && s.next) {
    out.push({ field: 'next', to: s.next });
  }
  return out;
}

/** The steps reachable from `from` (itself included), following every exit. Bounded by the graph's size. */
function reachableFrom(from: string, byId: ReadonlyMap<string, Step>): Set<string> {
  const seen = new Set<string>([from]);
  const todo = [from];
  while (todo.length > 0) {
    const s = byId.get(todo.pop()!);
    if (!s) continue;
    for (const e of exitsOf(s)) {
      if (!seen.has(e.to) && byId.has(e.to)) {
        seen.add(e.to);
        todo.push(e.to);
      }
    }
  }
  return seen;
}

/** A delay that waits each time it runs: one of an `amount`. A delay `until` a fixed time waits once only. */
const waitsEachTime = (s: Step): boolean => s.type === 'delay' && s.until === undefined;

/**
 * A loop with no delay step in it would run the same steps again and again at once: only a delay makes a loop
 * a schedule. Removing the delay steps must leave no cycle; the first cycle found is named step by step.
 */
function cycleWithoutDelay(steps: readonly Step[], byId: ReadonlyMap<string, Step>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'open');
    path.push(id);
    for (const e of exitsOf(byId.get(id)!)) {
      const to = byId.get(e.to);
      if (!to || waitsEachTime(to)) continue;
      const seen = state.get(e.to);
      if (seen === 'open') return [...path.slice(path.indexOf(e.to)), e.to];
      if (seen === undefined) {
        const found = visit(e.to);
        if (found) return found;
      }
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  // depth is at most MAX_STEPS (100), so recursion is bounded
  for (const s of steps) {
    if (waitsEachTime(s) || state.has(s.id)) continue;
    const found = visit(s.id);
    if (found) return found;
  }
  return undefined;
}

/** Every structural problem of a graph, in the order of its steps: ids, references, reachability, loops, conditions. */
export function graphProblems(g: Graph): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const byId = new Map<string, Step>();
  for (const s of g.steps) {
    if (byId.has(s.id)) problems.push({ step: s.id, message: `Step '${s.id}': another step has the same id` });
    else byId.set(s.id, s);
  }
  for (const s of g.steps) {
    for (const e of exitsOf(s)) {
      if (!byId.has(e.to)) problems.push({ step: s.id, message: `Step '${s.id}': ${e.field} '${e.to}' is not a step` });
      if (e.to === s.id && !waitsEachTime(s)) problems.push({ step: s.id, message: `Step '${s.id}': ${e.field} goes back to the step itself without a delay` });
    }
  }
  const entry = g.steps[0]!.id;
  const reachable = reachableFrom(entry, byId);
  for (const s of byId.values()) {
    if (!reachable.has(s.id)) problems.push({ step: s.id, message: `Step '${s.id}': cannot be reached from the entry step '${entry}'` });
  }
  const loop = cycleWithoutDelay(g.steps, byId);
  if (loop && loop.length > 2) {
    const once = loop.some((id) => byId.get(id)?.type === 'delay') ? ' (a delay `until` a fixed time waits once only)' : '';
    problems.push({ step: loop[0]!, message: `Step '${loop[0]}': loops back through ${loop.map((id) => `'${id}'`).join(' → ')} with no delay step in the loop${once}` });
  }
  for (const s of g.steps) {
    if (s.type !== 'condition' || (s.condition.kind !== 'email_opened' && s.condition.kind !== 'email_clicked')) continue;
    const looked = byId.get(s.condition.step);
    if (!looked) problems.push({ step: s.id, message: `Step '${s.id}': condition looks at '${s.condition.step}', which is not a step` });
    else if (looked.type !== 'send_email') problems.push({ step: s.id, message: `Step '${s.id}': condition looks at '${looked.id}', which is ${/^[aeiou]/.test(looked.type) ? 'an' : 'a'} ${looked.type} step, not a send_email step` });
    else if (looked.id === s.id || !reachableFrom(looked.id, byId).has(s.id)) {
      problems.push({ step: s.id, message: `Step '${s.id}': condition looks at '${looked.id}', which cannot come before it` });
    }
  }
  return problems;
}

/** What a graph and its trigger name in the workspace, each with the step that names it (null: the trigger). */
export interface GraphReferences {
  templates: Map<string, string[]>;
  senders: Map<string, string[]>;
  audiences: Map<string, (string | null)[]>;
}

const add = <K>(map: Map<string, K[]>, key: string, who: K): void => {
  const list = map.get(key);
  if (list) list.push(who);
  else map.set(key, [who]);
};

export function referencesOf(g: Graph, t: Trigger): GraphReferences {
  const refs: GraphReferences = { templates: new Map(), senders: new Map(), audiences: new Map() };
  for (const s of g.steps) {
    if (s.type === 'send_email') {
      add(refs.templates, s.template_id, s.id);
      add(refs.senders, s.from, s.id);
    }
    if (s.type === 'action' && (s.action.kind === 'subscribe' || s.action.kind === 'unsubscribe')) add(refs.audiences, s.action.audience_id, s.id);
  }
  if (t.type === 'contact_added_to_audience') add(refs.audiences, t.config.audience_id, null);
  if (t.type === 'date_time' && t.config.audience_id !== undefined) add(refs.audiences, t.config.audience_id, null);
  return refs;
}

/** The lookups the workspace checks need: whether a template or audience exists, and why a sender is refused. */
export interface WorkspaceLookups {
  templateExists(id: string): Promise<boolean>;
  audienceExists(id: string): Promise<boolean>;
  /** null when the workspace may send from the address, else why not */
  senderRefusal(from: string): Promise<string | null>;
}

const who = (step: string | null): string => (step === null ? 'Trigger' : `Step '${step}'`);

/** Problems with what the graph names: one lookup per distinct template, sender and audience (at most a few hundred). */
export async function workspaceProblems(refs: GraphReferences, lookups: WorkspaceLookups): Promise<GraphProblem[]> {
  const problems: GraphProblem[] = [];
  for (const [id, steps] of refs.templates) {
    if (!(await lookups.templateExists(id))) problems.push({ step: steps[0]!, message: `Step '${steps[0]}': template '${id}' was not found in this workspace` });
  }
  for (const [from, steps] of refs.senders) {
    const refusal = await lookups.senderRefusal(from);
    if (refusal !== null) problems.push({ step: steps[0]!, message: `Step '${steps[0]}': this workspace may not send from ${from}: ${refusal}` });
  }
  for (const [id, names] of refs.audiences) {
    if (!(await lookups.audienceExists(id))) problems.push({ step: names[0] ?? null, message: `${who(names[0] ?? null)}: audience '${id}' was not found in this workspace` });
  }
  return problems;
}

/** Refuses a graph with problems: the first one is the message, all of them are in `problems`. */
export function throwIfProblems(problems: readonly GraphProblem[]): void {
  if (problems.length === 0) return;
  throw new ApiError('VALIDATION_ERROR', problems[0]!.message, { details: { problems: problems.slice(0, 20) } });
}
