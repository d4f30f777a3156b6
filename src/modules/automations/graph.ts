import { z } from 'zod';

/**
 * The shape of an automation: its trigger and its graph of steps (README, "Automations"). This file declares what
 * may be stored; the API validates with these schemas, and graph-check.ts then checks what a schema cannot say
 * (every `next` names a step, every step is reachable, a cycle has a delay in it). The engine reads stored graphs
 * with the same types.
 */

export const TIME_UNITS = ['seconds', 'minutes', 'hours', 'days'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

const UNIT_MS: Record<TimeUnit, number> = { seconds: 1000, minutes: 60_000, hours: 3_600_000, days: 86_400_000 };

/** A span of time as the API spells it, in milliseconds. */
export const spanMs = (s: { amount: number; unit: TimeUnit }): number => s.amount * UNIT_MS[s.unit];

const stepId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a step id is 1-64 letters, digits, `_` or `-`')
  .describe('Unique within the automation; `next`, `on_true`, `on_false` and conditions refer to steps by it');

/** null or absent: the enrollment is complete after this step */
const next = stepId.nullable().optional().describe('The step that follows; absent or null ends the automation for the contact');

const span = z.object({
  amount: z.number().int().min(1).max(100_000),
  unit: z.enum(TIME_UNITS),
});

/** A contact field: a profile column (`first_name`, `last_name`, `company_name`, `job_title`, `phone`, `email`) or a custom field's name. */
const fieldName = z.string().min(1).max(100);

export const PROFILE_FIELDS = ['email', 'first_name', 'last_name', 'company_name', 'job_title', 'phone'] as const;

export const sendEmailStep = z.object({
  id: stepId,
  type: z.literal('send_email'),
  name: z.string().max(200).optional(),
  template_id: z.string().min(1).max(200).describe('A template of the workspace; it sees firstName, lastName, email, custom fields and event.<property>'),
  subject: z.string().max(998).optional().describe('Handlebars; overrides the template\'s subject when given'),
  from: z.string().min(3).max(320).describe('A sender address the workspace may send from (a verified domain of its own, or the server default)'),
  from_name: z.string().max(200).optional(),
  tier: z.enum(['instant', 'high', 'async', 'bulk']).default('bulk'),
  next,
});

export const delayStep = z
  .object({
    id: stepId,
    type: z.literal('delay'),
    name: z.string().max(200).optional(),
    amount: z.number().int().min(1).max(100_000).optional(),
    unit: z.enum(TIME_UNITS).optional(),
    until: z.iso.datetime({ offset: true }).optional().describe('Wait until this time instead (no wait once it has passed)'),
    next,
  })
  .refine((s) => (s.until !== undefined) !== (s.amount !== undefined && s.unit !== undefined), {
    message: 'a delay has either `amount` and `unit`, or `until`',
  });

export const conditionTest = z.discriminatedUnion('kind', [
  z.object({
    kind: z.enum(['email_opened', 'email_clicked']),
    step: stepId.describe('The send_email step whose email is looked at'),
    within: span.optional().describe('Only opens or clicks this soon after that email was accepted count'),
  }),
  z.object({
    kind: z.literal('field'),
    field: fieldName,
    op: z.enum(['equals', 'not_equals', 'contains', 'exists', 'not_exists']),
    value: z.union([z.string().max(1000), z.number(), z.boolean()]).optional(),
  }),
  z.object({
    kind: z.literal('tag'),
    tag: z.string().min(1).max(100),
    op: z.enum(['has', 'has_not']),
  }),
]);
export type ConditionTest = z.infer<typeof conditionTest>;

export const conditionStep = z.object({
  id: stepId,
  type: z.literal('condition'),
  name: z.string().max(200).optional(),
  condition: conditionTest,
  on_true: next,
  on_false: next,
});

export const stepAction = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['add_tag', 'remove_tag']), tag: z.string().min(1).max(100) }),
  z.object({ kind: z.literal('update_field'), field: fieldName, value: z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]) }),
  z.object({ kind: z.enum(['subscribe', 'unsubscribe']), audience_id: z.string().min(1).max(100) }),
]);
export type StepAction = z.infer<typeof stepAction>;

export const actionStep = z.object({
  id: stepId,
  type: z.literal('action'),
  name: z.string().max(200).optional(),
  action: stepAction,
  next,
});

export const exitStep = z.object({
  id: stepId,
  type: z.literal('exit'),
  name: z.string().max(200).optional(),
});

export const step = z.union([sendEmailStep, delayStep, conditionStep, actionStep, exitStep]);
export type Step = z.infer<typeof step>;
export type SendEmailStep = z.infer<typeof sendEmailStep>;
export type DelayStep = z.infer<typeof delayStep>;
export type ConditionStep = z.infer<typeof conditionStep>;
export type ActionStep = z.infer<typeof actionStep>;

export const MAX_STEPS = 100;

/** The first step is the entry. */
export const graph = z.object({ steps: z.array(step).min(1).max(MAX_STEPS) });
export type Graph = z.infer<typeof graph>;

export const TRIGGER_TYPES = ['contact_event', 'contact_added_to_audience', 'date_time', 'manual'] as const;

/**
 * date_time: either a fixed `at` (every subscribed contact of `audience_id`, or of the workspace, is enrolled
 * once at that time) or a contact `date_field` (a profile or custom field holding a date, `created_at` included):
 * the contact is enrolled at `time` on that date plus `offset_days`, every year when `annual`, in the contact's
 * `timezone` custom field when it names an IANA zone, else the workspace's time zone.
 */
export const trigger = z.discriminatedUnion('type', [
  z.object({ type: z.literal('contact_event'), config: z.object({ event_name: z.string().min(1).max(200) }) }),
  z.object({ type: z.literal('contact_added_to_audience'), config: z.object({ audience_id: z.string().min(1).max(100) }) }),
  z.object({
    type: z.literal('date_time'),
    config: z.union([
      z.object({ at: z.iso.datetime({ offset: true }), audience_id: z.string().min(1).max(100).optional() }),
      z.object({
        date_field: fieldName,
        time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM').default('09:00'),
        offset_days: z.number().int().min(-365).max(365).default(0),
        annual: z.boolean().default(false),
        audience_id: z.string().min(1).max(100).optional(),
      }),
    ]),
  }),
  z.object({ type: z.literal('manual'), config: z.object({}).default({}) }),
]);
export type Trigger = z.infer<typeof trigger>;
