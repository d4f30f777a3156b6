import { PLANS } from '../config/plans.js';
import { REGIONS } from '../config/regions.js';
import { ADMIN_SCOPES } from '../modules/keys/words.js';
import { SUPPRESSION_REASONS, SUPPRESSION_SCOPES } from '../platform/db/schema.js';
import { SIGNATURE_SCHEMES, WEBHOOK_EVENTS } from '../modules/webhooks/words.js';

/**
 * Every command the CLI knows, declared once: parsing, validation, `--help` and `--print` all read this
 * table, so they cannot disagree (test/cli-table.test.ts checks it against the real commands).
 */

export interface OptionSpec {
  name: string;
  /** the value's placeholder in help (`--name NAME`); absent for a flag that takes no value */
  value?: string;
  description: string;
  required?: boolean;
  /** the allowed values (compared without regard to case); with `list`, each item of a comma-separated list */
  choices?: readonly string[];
  list?: boolean;
  /** a whole number of seconds */
  seconds?: boolean;
}

/** start/api/worker run a server; migrate migrates; import imports a file with progress (src/cli/import-command.ts); the rest run an operator command (src/app/admin-commands.ts). */
export type CommandKind = 'server' | 'migrate' | 'admin' | 'import';

export interface CommandSpec {
  /** one or two words: `start`, `workspace create` */
  name: string;
  kind: CommandKind;
  summary: string;
  /** more than the summary, shown by `--help` */
  details?: string;
  options: readonly OptionSpec[];
  /** a positional argument the command requires (`contacts import FILE`), given as the value `name` in lower case */
  argument?: { name: string; description: string };
  /** the dotted paths `--print` accepts: fields every result of the command has */
  output: readonly string[];
  example?: string;
}

const WORKSPACE = ['id', 'name', 'plan', 'created_at'];
const KEY = ['id', 'key_id', 'name', 'kind', 'scopes', 'domain_id', 'is_active', 'expires_at', 'last_used_at', 'created_at'];
const DOMAIN = [
  'id',
  'domain',
  'verification_status',
  'mail_from_status',
  'mail_from_domain',
  'region',
  'verified_at',
  'mail_from_verified_at',
  'last_checked_at',
  'created_at',
  'dkim',
  'dkim.selector',
  'dkim.pending_selector',
  'dkim.algorithm',
  'dkim.key_bits',
  'dns_records',
];
const SUPPRESSION = ['email', 'scope', 'reason', 'source_email_id', 'created_at'];
const WEBHOOK = ['id', 'url', 'events', 'signature_scheme', 'status', 'failing_since', 'description', 'secret', 'created_at', 'updated_at'];
const webhookOption: OptionSpec = { name: 'webhook', value: 'ID', required: true, description: "the endpoint's id, from `webhook list`" };
const AUTOMATION = [
  'id',
  'name',
  'description',
  'status',
  'trigger_type',
  'trigger_config',
  'enrolled_count',
  'completed_count',
  'active_count',
  'version',
  'created_at',
  'updated_at',
  'trigger',
  'trigger.type',
  'trigger.config',
  'steps',
];
const automationOption: OptionSpec = { name: 'automation', value: 'ID', required: true, description: "the automation's id, from `automation list`" };
const IMPORT = ['id', 'status', 'audience_id', 'bytes', 'rows_read', 'created', 'updated', 'skipped', 'failed', 'errors', 'errors_total', 'error'];
const USAGE = ['plan', 'period', 'resets_at', 'monthly_quota', 'used', 'remaining', 'emails_accepted', 'requests_per_second'];

/** `field` itself and each of its sub-fields. */
const nested = (field: string, subfields: readonly string[]): string[] => [field, ...subfields.map((s) => `${field}.${s}`)];

const workspaceOption = (description = 'the workspace (its id, from `workspace list`)'): OptionSpec => ({ name: 'workspace', value: 'ID', description, required: true });

export const JSON_OPTION: OptionSpec = { name: 'json', description: 'print the whole result as JSON' };
export const PRINT_OPTION: OptionSpec = { name: 'print', value: 'FIELD', description: 'print one field of the result (listed below), for shell substitution' };
export const WAIT_OPTION: OptionSpec = {
  name: 'wait',
  value: 'SECONDS',
  seconds: true,
  description: 'on the embedded database, how long to wait for a busy server that holds DATA_DIR (default CLI_WAIT_SECONDS, 60)',
};
export const HELP_OPTION: OptionSpec = { name: 'help', description: 'show this help' };
export const DEBUG_OPTION: OptionSpec = { name: 'debug', description: 'on an unexpected error, print its stack trace too (or DEBUG=1)' };

/** Every command takes --help and --debug; commands with a result take --json, --print and --wait. */
export const COMMON_OPTIONS = [HELP_OPTION, DEBUG_OPTION] as const;
const RESULT_OPTIONS = [JSON_OPTION, PRINT_OPTION, WAIT_OPTION] as const;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'start',
    kind: 'server',
    summary: 'run every role in one process (API, delivery workers, inbound listener if INBOUND_SMTP_PORT is set), on the embedded database or PostgreSQL',
    options: [],
    output: [],
    example: 'PORT=8080 keplars-server start',
  },
  { name: 'api', kind: 'server', summary: 'run the HTTP API only (PostgreSQL: DATABASE_URL)', options: [], output: [] },
  { name: 'worker', kind: 'server', summary: 'run the delivery workers only (PostgreSQL: DATABASE_URL)', options: [], output: [] },
  { name: 'inbound', kind: 'server', summary: 'run the inbound SMTP listener for bounces and complaints only (INBOUND_SMTP_PORT; PostgreSQL: DATABASE_URL)', options: [], output: [] },
  {
    name: 'migrate',
    kind: 'migrate',
    summary: 'apply database migrations (a running embedded server has already applied them)',
    options: RESULT_OPTIONS,
    output: ['applied'],
  },
  {
    name: 'workspace create',
    kind: 'admin',
    summary: 'create a workspace; prints its id, an admin key with every scope and a sending key',
    details: 'Both keys are shown only once and stored only as hashes.',
    options: [
      { name: 'name', value: 'NAME', description: "the workspace's name", required: true },
      { name: 'plan', value: 'PLAN', choices: PLANS, description: `${PLANS.join(', ')} (default: the DEFAULT_PLAN setting, FREE unless set)` },
      ...RESULT_OPTIONS,
    ],
    output: [...nested('workspace', WORKSPACE), 'admin_key', ...nested('admin_key_info', KEY), 'secret_key', ...nested('api_key', KEY)],
    example: 'keplars-server workspace create --name "My team" --print secret_key',
  },
  {
    name: 'workspace list',
    kind: 'admin',
    summary: 'list the workspaces',
    options: RESULT_OPTIONS,
    output: ['workspaces'],
  },
  {
    name: 'workspace set-plan',
    kind: 'admin',
    summary: "change a workspace's plan (its monthly quota, request rate and scheduled sending)",
    options: [workspaceOption(), { name: 'plan', value: 'PLAN', choices: PLANS, required: true, description: PLANS.join(', ') }, ...RESULT_OPTIONS],
    output: nested('workspace', WORKSPACE),
    example: 'keplars-server workspace set-plan --workspace <id> --plan LAUNCH',
  },
  {
    name: 'workspace set-tracking',
    kind: 'admin',
    summary: "turn open or click tracking on or off by default for a workspace's sends",
    details: 'A send that sets track_opens or track_clicks still decides for itself. API processes see the change within two seconds.',
    options: [
      workspaceOption(),
      { name: 'opens', value: 'on|off', choices: ['on', 'off'], description: 'the open-tracking pixel' },
      { name: 'clicks', value: 'on|off', choices: ['on', 'off'], description: 'rewriting links to tracked ones' },
      ...RESULT_OPTIONS,
    ],
    output: [...nested('workspace', WORKSPACE), 'tracking', 'tracking.opens', 'tracking.clicks'],
    example: 'keplars-server workspace set-tracking --workspace <id> --opens off --clicks off',
  },
  {
    name: 'workspace set-timezone',
    kind: 'admin',
    summary: 'set the time zone in which date_time automation triggers fire for contacts without one of their own',
    details: "A contact's `timezone` custom field wins when it names an IANA zone. New workspaces start in UTC.",
    options: [workspaceOption(), { name: 'zone', value: 'ZONE', required: true, description: 'an IANA time zone, e.g. Europe/Berlin or UTC' }, ...RESULT_OPTIONS],
    output: [...nested('workspace', WORKSPACE), 'timezone'],
    example: 'keplars-server workspace set-timezone --workspace <id> --zone Europe/Berlin',
  },
  {
    name: 'workspace usage',
    kind: 'admin',
    summary: "this month's emails against the plan's quota",
    options: [workspaceOption(), ...RESULT_OPTIONS],
    output: [...nested('workspace', WORKSPACE), ...nested('usage', USAGE)],
  },
  {
    name: 'admin-key create',
    kind: 'admin',
    summary: 'create an admin key (kms_….adm_…; at most 5 active per workspace)',
    options: [
      workspaceOption(),
      { name: 'scopes', value: 'S1,S2', choices: ADMIN_SCOPES, list: true, description: `comma-separated, from ${ADMIN_SCOPES.join(', ')} (default: every scope)` },
      { name: 'name', value: 'NAME', description: "the key's name" },
      ...RESULT_OPTIONS,
    ],
    output: [...nested('api_key', KEY), 'secret_key'],
  },
  {
    name: 'api-key create',
    kind: 'admin',
    summary: 'create a sending key (kms_….live_…)',
    options: [workspaceOption(), { name: 'name', value: 'NAME', description: "the key's name" }, ...RESULT_OPTIONS],
    output: [...nested('api_key', KEY), 'secret_key'],
  },
  {
    name: 'key list',
    kind: 'admin',
    summary: "list a workspace's keys (never their secrets)",
    options: [workspaceOption(), ...RESULT_OPTIONS],
    output: ['keys'],
  },
  {
    name: 'key revoke',
    kind: 'admin',
    summary: 'revoke a key at once',
    options: [workspaceOption(), { name: 'key', value: 'ID', required: true, description: "the key's id, from `key list`" }, ...RESULT_OPTIONS],
    output: ['revoked'],
  },
  {
    name: 'domain add',
    kind: 'admin',
    summary: 'add a custom sending domain; prints the DNS records to publish',
    options: [
      workspaceOption(),
      { name: 'domain', value: 'DOMAIN', required: true, description: 'the domain, e.g. mail.example.com' },
      { name: 'region', value: 'REGION', choices: REGIONS, description: `${REGIONS.join(', ')} (default us-east-1)` },
      ...RESULT_OPTIONS,
    ],
    output: nested('domain', DOMAIN),
  },
  {
    name: 'domain list',
    kind: 'admin',
    summary: "list a workspace's domains",
    options: [workspaceOption(), ...RESULT_OPTIONS],
    output: ['domains'],
  },
  {
    name: 'domain verify',
    kind: 'admin',
    summary: "check a domain's records in DNS now",
    options: [workspaceOption(), { name: 'domain', value: 'ID_OR_NAME', required: true, description: "the domain's id or name" }, ...RESULT_OPTIONS],
    output: nested('domain', DOMAIN),
  },
  {
    name: 'suppression list',
    kind: 'admin',
    summary: "list a workspace's suppressed addresses, newest first (at most 1000)",
    options: [
      workspaceOption(),
      { name: 'reason', value: 'REASON', choices: SUPPRESSION_REASONS, description: `only this reason: ${SUPPRESSION_REASONS.join(', ')}` },
      { name: 'email', value: 'ADDRESS', description: 'only this address' },
      ...RESULT_OPTIONS,
    ],
    output: ['suppressions'],
  },
  {
    name: 'suppression add',
    kind: 'admin',
    summary: 'suppress an address by hand (reason manual): no email goes to it, its contact is blocked',
    options: [
      workspaceOption(),
      { name: 'email', value: 'ADDRESS', required: true, description: 'the address' },
      { name: 'scope', value: 'SCOPE', choices: SUPPRESSION_SCOPES, description: 'all (default): every email; bulk: bulk-tier mail only' },
      ...RESULT_OPTIONS,
    ],
    output: [...nested('suppression', SUPPRESSION), 'added'],
  },
  {
    name: 'suppression remove',
    kind: 'admin',
    summary: 'reactivate an address: it leaves the list (every scope and reason), the next email to it goes out',
    options: [workspaceOption(), { name: 'email', value: 'ADDRESS', required: true, description: 'the address' }, ...RESULT_OPTIONS],
    output: ['email', 'removed'],
  },
  {
    name: 'webhook add',
    kind: 'admin',
    summary: 'add a webhook endpoint; prints its signing secret (shown only once)',
    details: 'The URL must resolve to public addresses unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true (README, "Webhooks").',
    options: [
      workspaceOption(),
      { name: 'url', value: 'URL', required: true, description: 'http:// or https:// URL that receives the events' },
      { name: 'events', value: 'LIST', list: true, choices: ['*', ...WEBHOOK_EVENTS], description: 'comma-separated event names, or * for all (default *)' },
      { name: 'scheme', value: 'SCHEME', choices: SIGNATURE_SCHEMES, description: 'X-Keplars-Signature scheme: s1 (default), s2 or s3' },
      { name: 'secret', value: 'SECRET', description: 'your own signing secret (default: a generated whsec_ secret)' },
      { name: 'description', value: 'TEXT', description: 'a note for people' },
      ...RESULT_OPTIONS,
    ],
    output: nested('webhook', WEBHOOK),
    example: 'keplars-server webhook add --workspace <id> --url https://hooks.example.com/keplars --events email.delivered,email.bounced',
  },
  {
    name: 'webhook list',
    kind: 'admin',
    summary: "list a workspace's webhook endpoints and their status (failing ones too)",
    options: [workspaceOption(), ...RESULT_OPTIONS],
    output: ['webhooks'],
  },
  {
    name: 'webhook remove',
    kind: 'admin',
    summary: 'delete a webhook endpoint with its deliveries',
    options: [workspaceOption(), webhookOption, ...RESULT_OPTIONS],
    output: ['removed'],
  },
  {
    name: 'webhook test',
    kind: 'admin',
    summary: "send a sample event to an endpoint now; prints the receiver's status code and latency",
    options: [workspaceOption(), webhookOption, ...RESULT_OPTIONS],
    output: ['result', 'result.delivery_id', 'result.event', 'result.success', 'result.status_code', 'result.latency_ms', 'result.body_excerpt', 'result.error'],
  },
  {
    name: 'automation list',
    kind: 'admin',
    summary: "list a workspace's automations (every status), oldest first, with their enrollment counts",
    details: 'Automations are made and changed with the API (POST /api/v1/automations; README, "Automations").',
    options: [workspaceOption(), ...RESULT_OPTIONS],
    output: ['automations'],
  },
  {
    name: 'automation show',
    kind: 'admin',
    summary: 'show an automation: its status, trigger, steps and counts',
    options: [workspaceOption(), automationOption, ...RESULT_OPTIONS],
    output: nested('automation', AUTOMATION),
  },
  {
    name: 'automation activate',
    kind: 'admin',
    summary: 'activate a draft or paused automation: its trigger enrolls contacts, paused enrollments go on',
    details: 'The graph is checked again first (its templates, senders and audiences must still exist).',
    options: [workspaceOption(), automationOption, ...RESULT_OPTIONS],
    output: nested('automation', AUTOMATION),
    example: 'keplars-server automation activate --workspace <id> --automation <id>',
  },
  {
    name: 'automation pause',
    kind: 'admin',
    summary: 'pause an active automation: nobody is enrolled, running enrollments wait at their next step',
    options: [workspaceOption(), automationOption, ...RESULT_OPTIONS],
    output: nested('automation', AUTOMATION),
  },
  {
    name: 'contacts import',
    kind: 'import',
    summary: 'import contacts from a CSV file, showing progress; the summary lists the rows refused',
    details:
      'The first row names the columns (README, "Importing contacts"). With DATABASE_URL, or on the embedded database with no server running, the import runs in this process; ' +
      'when a server holds DATA_DIR, that server imports the file (read from the same path) and this command follows it. ' +
      'Progress goes to stderr: a bar with rows/s on a terminal, a line every 5 s otherwise. Exit code 0 once the import completed (even with refused rows), 1 when it failed.',
    argument: { name: 'FILE', description: 'the CSV file' },
    options: [workspaceOption(), { name: 'audience', value: 'ID', description: 'also add every contact to this audience (its id)' }, ...RESULT_OPTIONS],
    output: IMPORT,
    example: 'keplars-server contacts import contacts.csv --workspace <id> --audience <id>',
  },
];

/** The first words of two-word commands, in the table's order. */
export const GROUPS: readonly string[] = [...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!))];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function subcommandsOf(group: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `));
}

/** The command's own options and the common ones, as parsing and help see them. */
export function optionsOf(spec: CommandSpec): OptionSpec[] {
  return [...spec.options, ...COMMON_OPTIONS];
}

/** The command line with its required options, e.g. `keplars-server workspace usage --workspace <id>`. */
export function synopsis(spec: CommandSpec, values: Record<string, string> = {}): string {
  const required = spec.options.filter((o) => o.required).map((o) => `--${o.name} ${values[o.name] ?? `<${o.value!.toLowerCase()}>`}`);
  const argument = spec.argument ? [`<${spec.argument.name.toLowerCase()}>`] : [];
  return ['keplars-server', spec.name, ...argument, ...required].join(' ');
}
