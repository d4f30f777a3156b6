import { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import { cursorQuery, envelope, errorResponses, isoTime, limitQuery, operation, optionalObjectBody, pageMeta } from '../../platform/http/schemas.js';
import { isValidEmail } from '../sending/index.js';
import { MAX_STEPS, trigger } from './graph.js';

const TAG = 'Automations';
/** Example ids (test/openapi.test.ts puts ids it made in their place). */
export const AUTOMATION_ID = '019a83de-8b21-7d33-a1b2-3c4d5e6f7a8b';
const EXAMPLE_EMAIL = 'ada@example.com';
const TIME = '2026-01-05T10:00:00.000Z';

/** How large an event's properties may be, as JSON (they are stored with the event and each enrollment). */
export const MAX_PROPERTIES_BYTES = 16 * 1024;
const MAX_PAGE = 1_000_000;

const STATUSES = ['draft', 'active', 'paused', 'archived'] as const;

// ---------------------------------------------------------------------------------------------------------
// Shapes

const stepShape = z.record(z.string(), z.unknown()).describe('A step: `id`, `type` and the fields of its type (README, "Automations")');

const STEPS_TEXT =
  'The graph, in order; the first step is the entry. Each step has an `id` (1-64 letters, digits, `_`, `-`) and a `type`: ' +
  '`send_email` (`template_id`, `from`, optional `subject` (Handlebars), `from_name`, `tier`, `next`), ' +
  '`delay` (`amount` and `unit` seconds|minutes|hours|days, or `until` an ISO time; `next`), ' +
  '`condition` (`condition`: `{kind: email_opened|email_clicked, step, within?}`, `{kind: field, field, op, value?}` or `{kind: tag, tag, op: has|has_not}`; `on_true`, `on_false`), ' +
  '`action` (`action`: `{kind: add_tag|remove_tag, tag}`, `{kind: update_field, field, value}` or `{kind: subscribe|unsubscribe, audience_id}`; `next`), `exit`. ' +
  'A missing `next` ends the automation for the contact. Checked when saved: every id unique, every `next` a step, every step reachable, no loop without a delay, ' +
  'a condition on an email names a `send_email` step that can come before it, templates, senders and audiences exist in the workspace.';

const item = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  status: z.enum(STATUSES),
  trigger_type: z.enum(['contact_event', 'contact_added_to_audience', 'date_time', 'manual']),
  trigger_config: z.record(z.string(), z.unknown()),
  enrolled_count: z.number().describe('Enrollments ever made'),
  completed_count: z.number().describe('Enrollments that reached the end of the graph'),
  active_count: z.number().describe('Enrollments running now'),
  version: z.number().describe('The graph version new enrollments start on'),
  created_at: isoTime,
  updated_at: isoTime,
});

const detail = item.extend({
  trigger: z.object({ type: z.string(), config: z.record(z.string(), z.unknown()) }),
  steps: z.array(stepShape),
});

const exampleSteps = [
  { id: 'tag', type: 'action', action: { kind: 'add_tag', tag: 'onboarding' }, next: 'wait' },
  { id: 'wait', type: 'delay', amount: 2, unit: 'days', next: 'done' },
  { id: 'done', type: 'action', action: { kind: 'remove_tag', tag: 'onboarding' } },
];

const exampleItem = {
  id: AUTOMATION_ID,
  name: 'Onboarding',
  description: 'Tags new signups for two days',
  status: 'active',
  trigger_type: 'contact_event',
  trigger_config: { event_name: 'signed_up' },
  enrolled_count: 12,
  completed_count: 9,
  active_count: 3,
  version: 1,
  created_at: TIME,
  updated_at: TIME,
};
const exampleDetail = { ...exampleItem, trigger: { type: 'contact_event', config: { event_name: 'signed_up' } }, steps: exampleSteps };

const automationId = z.object({ id: z.string().meta({ description: 'The automation id', examples: [AUTOMATION_ID] }) });

const ERRORS = errorResponses({ key: true, extra: [404] });

// ---------------------------------------------------------------------------------------------------------
// Query parameters and fields

/** `page` as clients send it: absent, empty or 0 mean the first page. */
const pageQuery = z
  .string()
  .optional()
  .meta({ description: 'Page number, from 1 (absent, empty or 0: the first page)', examples: ['1'] })
  .transform((value): number => {
    if (value === undefined || value === '' || value === '0') return 1;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new ApiError('VALIDATION_ERROR', "Query parameter 'page' must be a positive integer");
    return Math.min(n, MAX_PAGE);
  });

const statusQuery = (description: string) =>
  z
    .string()
    .optional()
    .meta({ description })
    .transform((value): (typeof STATUSES)[number] | undefined => {
      if (value === undefined || value === '') return undefined;
      const found = STATUSES.find((s) => s === value.toLowerCase());
      if (!found) throw new ApiError('VALIDATION_ERROR', `Query parameter 'status' must be one of ${STATUSES.join(', ')}`);
      return found;
    });

const emailField = z
  .string()
  .trim()
  .check((ctx) => {
    if (!isValidEmail(ctx.value)) ctx.issues.push({ code: 'custom', message: `has an invalid email address: ${JSON.stringify(ctx.value.slice(0, 100))}`, input: ctx.value, continue: false });
  })
  .describe("The contact's address: the contact must exist in the workspace");

const properties = z
  .record(z.string(), z.unknown())
  .check((ctx) => {
    if (Buffer.byteLength(JSON.stringify(ctx.value)) > MAX_PROPERTIES_BYTES) {
      ctx.issues.push({ code: 'custom', message: `must be at most ${MAX_PROPERTIES_BYTES} bytes as JSON`, input: ctx.value, continue: false });
    }
  })
  .describe('What the event carries: templates of the automations it starts see them as `{{event.<property>}}`');

const name = z.string().trim().min(1).max(200);
const description = z.string().max(1000).nullable().optional();
const steps = z.array(stepShape).max(MAX_STEPS).describe(STEPS_TEXT);

// ---------------------------------------------------------------------------------------------------------
// The Keplars routes (spec §6)

export const getAllSchema = {
  ...operation({
    summary: 'List automations',
    description:
      "The workspace's automations, oldest first, each shaped like get-automation, with both pagination styles (flat `page`, `limit`, `total`, `totalPages` and `meta`). Archived automations are left out unless `status=archived`.",
    tag: TAG,
  }),
  querystring: z.object({ page: pageQuery, limit: limitQuery(50, 100), status: statusQuery('Only automations in this status: draft, active, paused or archived') }),
  response: {
    200: envelope(
      z.object({
        automations: z.array(item),
        page: z.number(),
        limit: z.number(),
        total: z.number(),
        totalPages: z.number(),
        meta: z.object({ total: z.number(), page: z.number(), limit: z.number(), has_more: z.boolean() }),
      }),
    ).meta({
      examples: [
        {
          success: true,
          message: 'Automations retrieved',
          data: { automations: [exampleItem], page: 1, limit: 50, total: 1, totalPages: 1, meta: { total: 1, page: 1, limit: 50, has_more: false } },
        },
      ],
    }),
    ...errorResponses({ key: true }),
  },
};

export const getAutomationSchema = {
  ...operation({
    summary: 'Get an automation',
    description: 'One automation with its enrollment counts. Any status but `archived` is returned (an archived automation answers 404 here; the extension `GET /api/v1/automations/{id}` shows it).',
    tag: TAG,
  }),
  params: automationId,
  response: {
    200: envelope(item).meta({ examples: [{ success: true, message: 'Success', data: exampleItem }] }),
    ...ERRORS,
  },
};

const contactBody = (examples: Record<string, unknown>[]) => z.object({ email: emailField }).meta({ examples });

const enrollData = z.object({
  automation_id: z.string(),
  contact_id: z.string(),
  email: z.string(),
  enrolled: z.boolean().describe('false: the contact was running this automation already, and nothing changed'),
});

export const enrollSchema = {
  ...operation({
    summary: 'Enroll a contact',
    description:
      'Starts the automation for an existing contact (this API never creates contacts). The automation must be active (409 `CONFLICT` otherwise); a blocked contact is refused (409). ' +
      'A contact is in an automation at most once at a time: enrolling it again while it runs changes nothing and succeeds with `enrolled: false`.',
    tag: TAG,
  }),
  params: automationId,
  body: contactBody([{ email: EXAMPLE_EMAIL }]),
  response: {
    200: envelope(enrollData).meta({ examples: [{ success: true, message: 'Success', data: { automation_id: AUTOMATION_ID, contact_id: '019a83de-2fc2-7b5f-bfbc-c951fe1200f7', email: EXAMPLE_EMAIL, enrolled: true } }] }),
    ...errorResponses({ key: true, extra: [404, 409] }),
  },
};

export const unenrollSchema = {
  ...operation({
    summary: 'Remove a contact from an automation',
    description:
      'Ends the contact\'s running enrollment (status `exited`, exit_reason `unenrolled`): it stops before its next step. The address comes in a JSON body (`{"email"}`, as the PHP SDK sends it on DELETE) or as `?email=`. ' +
      'A contact that is not running the automation succeeds with `unenrolled: false`.',
    tag: TAG,
  }),
  params: automationId,
  querystring: z.object({ email: z.string().optional().meta({ description: 'The address, when the body does not carry it' }) }),
  body: optionalObjectBody({ email: z.string().optional().describe("The contact's address") }, [{ email: EXAMPLE_EMAIL }]),
  response: {
    200: envelope(z.object({ automation_id: z.string(), contact_id: z.string(), email: z.string(), unenrolled: z.boolean() })).meta({
      examples: [{ success: true, message: 'Success', data: { automation_id: AUTOMATION_ID, contact_id: '019a83de-2fc2-7b5f-bfbc-c951fe1200f7', email: EXAMPLE_EMAIL, unenrolled: true } }],
    }),
    ...ERRORS,
  },
};

export const trackSchema = {
  ...operation({
    summary: 'Track an event',
    description:
      'Records an event of a contact and enrolls the contact in every active automation with a `contact_event` trigger whose `event_name` matches (at most 100). ' +
      `\`properties\` (at most ${MAX_PROPERTIES_BYTES / 1024} KiB as JSON) are what the automation's templates see as \`{{event.<property>}}\`. ` +
      'Answers the event id and how many automations it started (a contact already running one is not enrolled again).',
    tag: TAG,
  }),
  body: z
    .object({
      email: emailField,
      event_name: z.string().trim().min(1).max(200).optional().describe('The event, as automations name it in their trigger'),
      eventName: z.string().trim().min(1).max(200).optional().describe('Alias of `event_name`'),
      properties: properties.optional(),
    })
    .meta({ examples: [{ email: EXAMPLE_EMAIL, event_name: 'signed_up', properties: { plan: 'pro' } }] }),
  response: {
    200: envelope(z.object({ event_id: z.string(), enrolled: z.number().describe('Automations the event started for the contact') })).meta({
      examples: [{ success: true, message: 'Event tracked', data: { event_id: '019a83de-9c32-7e44-b2c3-4d5e6f7a8b9c', enrolled: 1 } }],
    }),
    ...ERRORS,
  },
};

// ---------------------------------------------------------------------------------------------------------
// The extension (README, "Automations")

const triggerDoc =
  'When contacts are enrolled: `{type: contact_event, config: {event_name}}` (events/track), `{type: contact_added_to_audience, config: {audience_id}}`, ' +
  '`{type: date_time, config: {at, audience_id?}}` or `{type: date_time, config: {date_field, time?, offset_days?, annual?, audience_id?}}`, `{type: manual}` (the enroll API only).';

export const createSchema = {
  ...operation({ summary: 'Create an automation', description: `Creates an automation in \`draft\`; activate it to enroll contacts. ${STEPS_TEXT}`, tag: TAG, extension: true }),
  body: z
    .object({ name, description, trigger: trigger.describe(triggerDoc), steps })
    .meta({ examples: [{ name: 'Onboarding', description: 'Tags new signups for two days', trigger: { type: 'contact_event', config: { event_name: 'signed_up' } }, steps: exampleSteps }] }),
  response: {
    200: envelope(detail).meta({ examples: [{ success: true, message: 'Automation created', data: { ...exampleDetail, status: 'draft', enrolled_count: 0, completed_count: 0, active_count: 0 } }] }),
    ...errorResponses({ key: true }),
  },
};

export const listSchema = {
  ...operation({ summary: 'List automations (cursor pages)', description: "The workspace's automations, oldest first, every status unless one is asked for, with their steps.", tag: TAG, extension: true }),
  querystring: z.object({ limit: limitQuery(20, 100), cursor: cursorQuery, status: statusQuery('Only automations in this status') }),
  response: {
    200: envelope(z.object({ automations: z.array(detail), ...pageMeta })).meta({ examples: [{ success: true, message: 'Automations retrieved', data: { automations: [exampleDetail], next_cursor: null, has_more: false } }] }),
    ...errorResponses({ key: true }),
  },
};

export const getSchema = {
  ...operation({ summary: 'Get an automation with its steps', description: 'One automation in any status, with its trigger, the steps new enrollments run, and its counts.', tag: TAG, extension: true }),
  params: automationId,
  response: {
    200: envelope(detail).meta({ examples: [{ success: true, message: 'Automation retrieved', data: exampleDetail }] }),
    ...ERRORS,
  },
};

export const updateSchema = {
  ...operation({
    summary: 'Change an automation',
    description:
      'Changes the fields given. New `steps` or a new `trigger` make a new version: contacts running the automation go on with the version they started on, new enrollments start on the new one. ' +
      'The graph is checked as on create. An archived automation cannot change (409 `CONFLICT`).',
    tag: TAG,
    extension: true,
  }),
  params: automationId,
  body: optionalObjectBody({ name: name.optional(), description, trigger: trigger.optional().describe(triggerDoc), steps: steps.optional() }, [{ name: 'Onboarding (v2)' }]),
  response: {
    200: envelope(detail).meta({ examples: [{ success: true, message: 'Automation updated', data: { ...exampleDetail, name: 'Onboarding (v2)' } }] }),
    ...errorResponses({ key: true, extra: [404, 409] }),
  },
};

const TRANSITIONS = {
  activate: { to: 'active', summary: 'Activate an automation', text: 'From `draft` or `paused`: its trigger enrolls contacts from now on, and paused enrollments go on. The graph is checked again first (a template may have been deleted since).' },
  pause: { to: 'paused', summary: 'Pause an automation', text: 'From `active`: nobody is enrolled, and running enrollments wait at their next step until it is active again.' },
  archive: { to: 'archived', summary: 'Archive an automation', text: 'From any status, for good: running enrollments end (exit_reason `automation_archived`), and it can no longer change.' },
} as const;

export type Transition = keyof typeof TRANSITIONS;
export const TRANSITION_NAMES = Object.keys(TRANSITIONS) as Transition[];
export const transitionTarget = (t: Transition) => TRANSITIONS[t].to;

export const transitionSchema = (t: Transition) => ({
  ...operation({
    summary: TRANSITIONS[t].summary,
    description: `${TRANSITIONS[t].text} Asking for the status it has already changes nothing; any other move is 409 \`CONFLICT\` (the state machine: draft → active, active ⇄ paused, any → archived).`,
    tag: TAG,
    extension: true,
  }),
  params: automationId,
  response: {
    200: envelope(detail).meta({ examples: [{ success: true, message: `Automation ${TRANSITIONS[t].to}`, data: { ...exampleDetail, status: TRANSITIONS[t].to } }] }),
    ...errorResponses({ key: true, extra: [404, 409] }),
  },
});

export const deleteSchema = {
  ...operation({
    summary: 'Delete an automation',
    description: 'Deletes the automation with its versions, enrollments and their history; running enrollments end at once (their queued steps do nothing). Archive instead to keep the history.',
    tag: TAG,
    extension: true,
  }),
  params: automationId,
  response: {
    200: envelope(z.object({ id: z.string(), deleted: z.literal(true), ended_enrollments: z.number().describe('Enrollments that were running') })).meta({
      examples: [{ success: true, message: 'Automation deleted', data: { id: AUTOMATION_ID, deleted: true, ended_enrollments: 3 } }],
    }),
    ...ERRORS,
  },
};

const stepRun = z.object({
  seq: z.number(),
  step_id: z.string(),
  step_type: z.string(),
  outcome: z.string().describe('sent, suppressed, waited, true, false, done, exited or skipped'),
  due_at: isoTime,
  ran_at: isoTime,
  message_id: z.string().nullable().describe('The email a send step accepted'),
  detail: z.record(z.string(), z.unknown()),
});

const enrollment = z.object({
  id: z.string(),
  contact_id: z.string(),
  email: z.string().nullable().describe('null once the contact is deleted'),
  status: z.enum(['active', 'completed', 'exited']),
  exit_reason: z.string().nullable().describe('unenrolled, contact_deleted, contact_blocked, exit_step, automation_archived, automation_deleted or step_failed'),
  current_step: z.string().nullable().describe('The step it runs next; null once it ended'),
  next_run_at: z.string().nullable(),
  version: z.number().describe('The graph version it runs'),
  enrolled_at: isoTime,
  ended_at: z.string().nullable(),
  history: z.array(stepRun).describe('Its latest 50 steps run, oldest first'),
});

export const enrollmentsSchema = {
  ...operation({ summary: 'List enrollments', description: "An automation's enrollments, oldest first: each contact's current step and the steps it ran.", tag: TAG, extension: true }),
  params: automationId,
  querystring: z.object({
    limit: limitQuery(20, 100),
    cursor: cursorQuery,
    status: z.enum(['active', 'completed', 'exited']).optional().describe('Only enrollments in this status'),
  }),
  response: {
    200: envelope(z.object({ enrollments: z.array(enrollment), ...pageMeta })).meta({
      examples: [
        {
          success: true,
          message: 'Enrollments retrieved',
          data: {
            enrollments: [
              {
                id: '019a83de-ad43-7f55-c3d4-5e6f7a8b9c0d',
                contact_id: '019a83de-2fc2-7b5f-bfbc-c951fe1200f7',
                email: EXAMPLE_EMAIL,
                status: 'active',
                exit_reason: null,
                current_step: 'wait',
                next_run_at: '2026-01-07T10:00:00.000Z',
                version: 1,
                enrolled_at: TIME,
                ended_at: null,
                history: [{ seq: 0, step_id: 'tag', step_type: 'action', outcome: 'done', due_at: TIME, ran_at: TIME, message_id: null, detail: {} }],
              },
            ],
            next_cursor: null,
            has_more: false,
          },
        },
      ],
    }),
    ...ERRORS,
  },
};
