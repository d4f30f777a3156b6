import { z } from 'zod';
import { ApiError } from '../../platform/http/errors.js';
import { envelope, errorResponses, operation, optionalObjectBody } from '../../platform/http/schemas.js';

const TEMPLATE_ID = '019a83de-6d44-7f51-a073-9c4e5f6a7b8c';

/** null is what SDKs send for "not set". */
const text = z.string().nullable().optional();
const present = (...values: (string | null | undefined)[]): string | undefined => values.find((v): v is string => typeof v === 'string');

const VARIABLE_NAME = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
const variableList = z.unknown().optional();

function requiredVariables(raw: unknown): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string' || !VARIABLE_NAME.test(v))) {
    throw new ApiError('VALIDATION_ERROR', "Field 'required_variables' must be an array of variable names such as \"firstName\" or \"order.id\"");
  }
  return [...new Set(raw as string[])];
}

/** A template's fields as clients send them; the service gets one spelling of each. */
const templateBody = (examples: Record<string, unknown>[]) =>
  optionalObjectBody({
  id: text.describe('save only: update this template instead of creating one (also accepted as `template_id`)'),
  template_id: text.describe('Alias of `id`'),
  name: text.describe('Required to create'),
  description: text,
  category: text,
  subject: text.describe('Handlebars: the subject line'),
  html: text.describe('Handlebars HTML (also accepted as `body` or `content`); MJML when it starts with <mjml>'),
  body: text.describe('Alias of `html`'),
  content: text.describe('Alias of `html`'),
  mjml: text.describe('MJML source, compiled to HTML'),
  text: text.describe('Handlebars plain-text alternative'),
  blocks: z.unknown().optional().describe('Visual-editor blocks: `[{ type: "header" | "text" | …, content: {…}, styles: {…} }]`, rendered to HTML'),
  required_variables: variableList.describe('Variables a send must give, e.g. ["firstName", "order.id"] (also accepted as `requiredVariables` or `variables`)'),
  requiredVariables: variableList.describe('Alias of `required_variables`'),
  variables: variableList.describe('Alias of `required_variables`'),
}, examples).transform((b) => ({
  id: present(b.id, b.template_id),
  name: present(b.name),
  description: present(b.description),
  category: present(b.category),
  subject: present(b.subject),
  html: present(b.html, b.body, b.content),
  mjml: present(b.mjml),
  text: present(b.text),
  blocks: b.blocks,
  requiredVariables: requiredVariables(b.required_variables ?? b.requiredVariables ?? b.variables),
}));

/** What the template service takes to create or change a template: the fields given. */
export type TemplateInput = Partial<z.output<ReturnType<typeof templateBody>>>;

const templateFields = {
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  category: z.string().nullable(),
  version: z.number().describe('The current version; every change makes a new one'),
  subject: z.string(),
  html: z.string(),
  text: z.string().nullable(),
  source_format: z.enum(['html', 'mjml', 'blocks']),
  source: z.string().nullable().describe('The MJML or blocks the HTML was made from'),
  required_variables: z.array(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
  versions: z.array(z.object({ version: z.number(), created_at: z.string() })),
};
const template = z.object(templateFields);

const exampleTemplate = {
  id: TEMPLATE_ID,
  name: 'Welcome',
  description: null,
  category: null,
  version: 1,
  subject: 'Welcome, {{firstName}}',
  html: '<p>Hello {{firstName}}</p>',
  text: null,
  source_format: 'html',
  source: null,
  required_variables: ['firstName'],
  created_at: '2026-01-05T10:00:00.000Z',
  updated_at: '2026-01-05T10:00:00.000Z',
  versions: [{ version: 1, created_at: '2026-01-05T10:00:00.000Z' }],
};
const exampleBody = { name: 'Welcome', subject: 'Welcome, {{firstName}}', html: '<p>Hello {{firstName}}</p>', required_variables: ['firstName'] };

const templateId = z.object({ id: z.string().meta({ description: 'The template id', examples: [TEMPLATE_ID] }) });
const CHANGE_ERRORS = errorResponses({ key: true, extra: [404, 422] });

const summary = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  category: z.string().nullable(),
  version: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
});
const exampleSummary = { id: TEMPLATE_ID, name: 'Welcome', description: null, category: null, version: 1, created_at: '2026-01-05T10:00:00.000Z', updated_at: '2026-01-05T10:00:00.000Z' };

export const listTemplatesSchema = {
  ...operation({ summary: 'List templates', description: "The workspace's templates; each `id` is the `template_id` for sending. The list is also at the top level as `templates`.", tag: 'Templates' }),
  response: {
    200: envelope(z.array(summary))
      .extend({ templates: z.array(summary) })
      .meta({ examples: [{ success: true, message: 'Templates retrieved', data: [exampleSummary], templates: [exampleSummary] }] }),
    ...errorResponses({ key: true }),
  },
};

export const saveTemplateSchema = {
  ...operation({ summary: 'Save a template', description: 'Creates a template, or (with `id`) adds a version to one. Subject, HTML and text are Handlebars; MJML and visual-editor blocks are compiled to HTML.', tag: 'Templates' }),
  body: templateBody([exampleBody]),
  response: {
    200: envelope(template).meta({ examples: [{ success: true, message: 'Template saved', data: exampleTemplate }] }),
    ...CHANGE_ERRORS,
  },
};

export const getTemplateSchema = {
  ...operation({ summary: 'Get a template', description: 'A template with its current version and the list of its versions.', tag: 'Templates', extension: true }),
  params: templateId,
  response: {
    200: envelope(template).meta({ examples: [{ success: true, message: 'Template retrieved', data: exampleTemplate }] }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};

export const updateTemplateSchema = (method: 'PUT' | 'PATCH') => ({
  ...operation({
    summary: method === 'PUT' ? 'Update a template' : 'Update a template (PATCH)',
    description: 'Adds a version: the fields given replace those of the current version, the others are kept. PUT and PATCH do the same.',
    tag: 'Templates',
    extension: true,
  }),
  params: templateId,
  body: templateBody([{ subject: 'Welcome aboard, {{firstName}}' }]),
  response: {
    200: envelope(template).meta({
      examples: [{ success: true, message: 'Template updated', data: { ...exampleTemplate, version: 2, subject: 'Welcome aboard, {{firstName}}', versions: [...exampleTemplate.versions, { version: 2, created_at: '2026-01-06T10:00:00.000Z' }] } }],
    }),
    ...CHANGE_ERRORS,
  },
});

export const deleteTemplateSchema = {
  ...operation({ summary: 'Delete a template', description: 'Removes the template; emails already accepted keep the version they rendered.', tag: 'Templates', extension: true }),
  params: templateId,
  response: {
    200: envelope(z.object({ id: z.string(), deleted: z.literal(true) })).meta({ examples: [{ success: true, message: 'Template deleted', data: { id: TEMPLATE_ID, deleted: true } }] }),
    ...errorResponses({ key: true, extra: [404] }),
  },
};

const params = z.looseObject({});

export const renderTemplateSchema = {
  ...operation({ summary: 'Render a template', description: 'Renders a version (the current one by default) with the given variables, as a send would; system links are example values.', tag: 'Templates', extension: true }),
  params: templateId,
  body: optionalObjectBody({
    params: params.nullable().optional().describe('The variables (also accepted as `template_data`)'),
    template_data: params.nullable().optional().describe('Alias of `params`'),
    version: z.union([z.number(), z.string()]).nullable().optional().describe('The version to render (default: the current one)'),
  }, [{ params: { firstName: 'Ada' } }]).transform((b) => {
      const version = b.version === undefined || b.version === null ? undefined : Number(b.version);
      if (version !== undefined && !Number.isInteger(version)) throw new ApiError('VALIDATION_ERROR', "Field 'version' must be an integer");
      return { params: b.params ?? b.template_data ?? {}, version };
    }),
  response: {
    200: envelope(z.object({ template_id: z.string(), version: z.number(), subject: z.string(), html: z.string(), text: z.string().nullable() })).meta({
      examples: [{ success: true, message: 'Template rendered', data: { template_id: TEMPLATE_ID, version: 1, subject: 'Welcome, Ada', html: '<p>Hello Ada</p>', text: null } }],
    }),
    ...errorResponses({ key: true, extra: [404, 422] }),
  },
};
