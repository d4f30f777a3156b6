import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { BounceClass, EmailEventType, EmailStatus, RecipientStatus, Tier } from '../lifecycle.js';

/** Timestamps come back as Date from both drivers; inserts may pass Date or ISO text. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string | undefined, string>;

export interface WorkspacesTable {
  id: string;
  name: string;
  plan: string;
  created_at: Timestamp;
  /** whether a send that does not say is tracked (migration 009) */
  track_opens_default: ColumnType<boolean, boolean | undefined, boolean>;
  track_clicks_default: ColumnType<boolean, boolean | undefined, boolean>;
  /** the IANA zone of date_time automation triggers for contacts without one of their own (migration 012) */
  timezone: ColumnType<string, string | undefined, string>;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  kind: 'regular' | 'admin';
  name: string;
  key_id: string;
  secret_hash: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  domain_id: string | null;
  is_active: ColumnType<boolean, boolean | undefined, boolean>;
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface StoredAddress {
  email: string;
  name?: string;
}

export interface StoredAttachment {
  filename: string;
  content: string;
  contentType?: string;
  contentId?: string;
}

export interface MessagesTable {
  id: string;
  workspace_id: string;
  api_key_id: string | null;
  tier: Tier;
  priority: number;
  status: EmailStatus;
  from_email: string;
  from_name: string | null;
  reply_to: Json<StoredAddress[]>;
  subject: string;
  html: string | null;
  text_body: string | null;
  headers: Json<Record<string, string>>;
  attachments: Json<StoredAttachment[]>;
  metadata: Json<Record<string, unknown>>;
  tags: Json<string[]>;
  message_id_header: string;
  recipients_count: number;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  next_attempt_at: NullableTimestamp;
  locked_by: string | null;
  transport: string | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  sent_at: NullableTimestamp;
  delivered_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  template_id: ColumnType<string | null, string | null | undefined, string | null>;
  template_version: ColumnType<number | null, number | null | undefined, number | null>;
  scheduled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  timezone: ColumnType<string | null, string | null | undefined, string | null>;
  /** the audience the email went to: its unsubscribe link leaves that audience (migrations/010_suppressions.sql) */
  audience_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** open and click tracking (migration 009, the README's "Tracking") */
  track_opens: ColumnType<boolean, boolean | undefined, boolean>;
  track_clicks: ColumnType<boolean, boolean | undefined, boolean>;
  /** the original URLs of the rewritten links, by link index */
  tracked_links: ColumnType<string[] | null, string | null | undefined, string | null>;
  opened_at: NullableTimestamp;
  clicked_at: NullableTimestamp;
  open_count: ColumnType<number, number | undefined, number>;
  click_count: ColumnType<number, number | undefined, number>;
  bot_open_count: ColumnType<number, number | undefined, number>;
  bot_click_count: ColumnType<number, number | undefined, number>;
}

export interface MessageRecipientsTable {
  message_id: string;
  position: number;
  kind: 'to' | 'cc' | 'bcc';
  email: string;
  name: string | null;
  status: ColumnType<RecipientStatus, RecipientStatus | undefined, RecipientStatus>;
  smtp_code: number | null;
  smtp_response: string | null;
  /** the class of a bounced or failed recipient's answer, and the answer (migrations/011_bounces.sql) */
  bounce_type: ColumnType<BounceClass | null, BounceClass | null | undefined, BounceClass | null>;
  bounce_reason: ColumnType<string | null, string | null | undefined, string | null>;
  updated_at: Timestamp;
}

export interface MessageEventsTable {
  id: Generated<string>;
  message_id: string;
  type: EmailEventType;
  recipient: string | null;
  attempt: number | null;
  smtp_host: string | null;
  smtp_code: number | null;
  smtp_response: string | null;
  detail: Json<Record<string, unknown> | null>;
  created_at: Timestamp;
}

export interface CapturedMessagesTable {
  id: string;
  message_id: string;
  workspace_id: string;
  envelope_from: string;
  envelope_to: string[];
  subject: string;
  size: number;
  raw: Buffer;
  created_at: Timestamp;
}

export interface IdempotencyKeysTable {
  workspace_id: string;
  key: string;
  request_hash: string;
  message_id: string;
  response: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface JobsTable {
  id: string;
  queue: string;
  dedupe_key: string | null;
  payload: Json<Record<string, unknown>>;
  status: ColumnType<string, string | undefined, string>;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: NullableTimestamp;
  locked_by: string | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TemplatesTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  category: string | null;
  current_version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface TemplateVersionsTable {
  template_id: string;
  version: number;
  subject: string;
  html: string;
  text_body: string | null;
  source_format: 'html' | 'mjml' | 'blocks';
  source: string | null;
  required_variables: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Timestamp;
}

export interface UsageCountersTable {
  workspace_id: string;
  period: string;
  emails: number;
}

export interface ServerSettingsTable {
  key: string;
  value: string;
}

// --- custom sending domains (migrations/002_domains.sql) ---

export type DomainStatus = 'pending' | 'verified' | 'failed' | 'temporary_failure';

export interface DomainsTable {
  id: string;
  workspace_id: string;
  name: string;
  region: string;
  mail_from_domain: string;
  verification_status: ColumnType<DomainStatus, DomainStatus | undefined, DomainStatus>;
  mail_from_status: ColumnType<DomainStatus, DomainStatus | undefined, DomainStatus>;
  checks: Json<unknown[]>;
  verification_started_at: Timestamp;
  verified_at: NullableTimestamp;
  mail_from_verified_at: NullableTimestamp;
  last_checked_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DomainDkimKeysTable {
  id: string;
  domain_id: string;
  selector: string;
  public_key: string;
  private_key_sealed: string;
  status: 'pending' | 'active' | 'retired';
  created_at: Timestamp;
  activated_at: NullableTimestamp;
  retired_at: NullableTimestamp;
}

export interface DomainEventsTable {
  id: Generated<string>;
  domain_id: string;
  type: string;
  detail: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

// --- end of custom sending domains ---

// --- contacts and audiences (migrations/006_contacts_audiences.sql) ---

export type ContactStatus = 'subscribed' | 'blocked';
export type BlockedReason = 'hard_bounce' | 'soft_bounce' | 'complaint' | 'manual';
export type MembershipStatus = 'subscribed' | 'unsubscribed' | 'pending';
export type ContactEventType = 'contact.created' | 'contact.updated' | 'contact.deleted' | 'contact.subscribed' | 'contact.unsubscribed';

export interface ContactsTable {
  id: string;
  workspace_id: string;
  email: string;
  email_key: string;
  first_name: string | null;
  last_name: string | null;
  company_name: string | null;
  job_title: string | null;
  phone: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  custom_fields: Json<Record<string, unknown>>;
  status: ColumnType<ContactStatus, ContactStatus | undefined, ContactStatus>;
  blocked_reason: BlockedReason | null;
  blocked_at: NullableTimestamp;
  deliverability_score: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AudiencesTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  contact_count: ColumnType<number, never, never>;
  double_opt_in: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AudienceMembersTable {
  audience_id: string;
  contact_id: string;
  status: ColumnType<MembershipStatus, MembershipStatus | undefined, MembershipStatus>;
  subscribed_at: NullableTimestamp;
  unsubscribed_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ContactEventsTable {
  id: Generated<string>;
  workspace_id: string;
  contact_id: string;
  audience_id: string | null;
  type: ContactEventType;
  data: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

// --- CSV imports of contacts (migrations/007_contact_imports.sql) ---

export type ContactImportStatus = 'receiving' | 'queued' | 'running' | 'completed' | 'failed';

/** One failed row of an import: its line in the file, the column at fault (null: the whole row), why. */
export interface ImportRowError {
  row: number;
  column: string | null;
  reason: string;
}

export interface ContactImportsTable {
  id: string;
  workspace_id: string;
  audience_id: string | null;
  status: ColumnType<ContactImportStatus, ContactImportStatus | undefined, ContactImportStatus>;
  /** int8: a string on both backends (database.ts) */
  bytes: ColumnType<string, number | undefined, number>;
  rows_read: ColumnType<number, number | undefined, number>;
  rows_created: ColumnType<number, number | undefined, number>;
  rows_updated: ColumnType<number, number | undefined, number>;
  rows_skipped: ColumnType<number, number | undefined, number>;
  rows_failed: ColumnType<number, number | undefined, number>;
  checkpoint_line: ColumnType<number, number | undefined, number>;
  errors: Json<ImportRowError[]>;
  error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

export interface ContactImportChunksTable {
  import_id: string;
  seq: number;
  data: Buffer;
}

// --- the suppression list (migrations/010_suppressions.sql) ---

export const SUPPRESSION_SCOPES = ['bulk', 'all'] as const;
export type SuppressionScope = (typeof SUPPRESSION_SCOPES)[number];
export const SUPPRESSION_REASONS = ['unsubscribe', 'hard_bounce', 'soft_bounce', 'complaint', 'manual'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface SuppressionsTable {
  workspace_id: string;
  email_key: string;
  email: string;
  scope: SuppressionScope;
  reason: SuppressionReason;
  source_email_id: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface SuppressionSoftCountsTable {
  workspace_id: string;
  email_key: string;
  count: number;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

// --- Webhooks (migrations/008_webhooks.sql) ---

export type WebhookEndpointStatus = 'active' | 'disabled' | 'failing';
export type WebhookSignatureScheme = 's1' | 's2' | 's3';
export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookEndpointsTable {
  id: string;
  workspace_id: string;
  url: string;
  events: ColumnType<string[], string[], string[]>;
  signature_scheme: ColumnType<WebhookSignatureScheme, WebhookSignatureScheme | undefined, WebhookSignatureScheme>;
  secret_sealed: string;
  secret_hint: string;
  description: string | null;
  status: ColumnType<WebhookEndpointStatus, WebhookEndpointStatus | undefined, WebhookEndpointStatus>;
  failing_since: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookOutboxTable {
  id: Generated<string>;
  source: 'message' | 'domain' | 'contact';
  /** int8[]: the events of one statement and workspace (migration 014) */
  event_ids: ColumnType<string[], string[], string[]>;
  workspace_id: string;
  created_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  workspace_id: string;
  event: string;
  payload: string;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: NullableTimestamp;
  locked_by: string | null;
  last_status_code: number | null;
  last_latency_ms: number | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookAttemptsTable {
  id: Generated<string>;
  delivery_id: string;
  status_code: number | null;
  latency_ms: number;
  body_excerpt: string | null;
  error: string | null;
  created_at: Timestamp;
}

// --- automations (migrations/012_automations.sql) ---

export type AutomationStatus = 'draft' | 'active' | 'paused' | 'archived';
export type AutomationTriggerType = 'contact_event' | 'contact_added_to_audience' | 'date_time' | 'manual';
export type EnrollmentStatus = 'active' | 'completed' | 'exited';

export interface AutomationsTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  status: ColumnType<AutomationStatus, AutomationStatus | undefined, AutomationStatus>;
  trigger_type: AutomationTriggerType;
  trigger_config: Json<Record<string, unknown>>;
  version: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AutomationVersionsTable {
  automation_id: string;
  version: number;
  graph: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface AutomationEnrollmentsTable {
  id: string;
  automation_id: string;
  workspace_id: string;
  contact_id: string;
  version: number;
  status: ColumnType<EnrollmentStatus, EnrollmentStatus | undefined, EnrollmentStatus>;
  exit_reason: string | null;
  current_step: string | null;
  next_run_at: NullableTimestamp;
  seq: ColumnType<number, number | undefined, number>;
  trigger_data: Json<Record<string, unknown>>;
  enrolled_at: Timestamp;
  ended_at: NullableTimestamp;
  updated_at: Timestamp;
}

export interface AutomationStepRunsTable {
  enrollment_id: string;
  seq: number;
  step_id: string;
  step_type: string;
  due_at: Timestamp;
  ran_at: Timestamp;
  outcome: string;
  message_id: string | null;
  detail: Json<Record<string, unknown>>;
}

export interface AutomationEventsTable {
  id: string;
  workspace_id: string;
  contact_id: string;
  event_name: string;
  properties: Json<Record<string, unknown>>;
  enrolled: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
}

export interface AutomationOccurrencesTable {
  automation_id: string;
  contact_id: string;
  occurrence: string;
  created_at: Timestamp;
}

export interface DB {
  workspaces: WorkspacesTable;
  api_keys: ApiKeysTable;
  messages: MessagesTable;
  message_recipients: MessageRecipientsTable;
  message_events: MessageEventsTable;
  captured_messages: CapturedMessagesTable;
  idempotency_keys: IdempotencyKeysTable;
  jobs: JobsTable;
  domains: DomainsTable;
  domain_dkim_keys: DomainDkimKeysTable;
  domain_events: DomainEventsTable;
  templates: TemplatesTable;
  template_versions: TemplateVersionsTable;
  usage_counters: UsageCountersTable;
  server_settings: ServerSettingsTable;
  contacts: ContactsTable;
  audiences: AudiencesTable;
  audience_members: AudienceMembersTable;
  contact_events: ContactEventsTable;
  contact_imports: ContactImportsTable;
  contact_import_chunks: ContactImportChunksTable;
  suppressions: SuppressionsTable;
  suppression_soft_counts: SuppressionSoftCountsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_outbox: WebhookOutboxTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  automations: AutomationsTable;
  automation_versions: AutomationVersionsTable;
  automation_enrollments: AutomationEnrollmentsTable;
  automation_step_runs: AutomationStepRunsTable;
  automation_events: AutomationEventsTable;
  automation_occurrences: AutomationOccurrencesTable;
}

export type WorkspaceRow = Selectable<WorkspacesTable>;
export type ContactImportRow = Selectable<ContactImportsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type MessageRow = Selectable<MessagesTable>;
export type NewMessage = Insertable<MessagesTable>;
export type MessageRecipientRow = Selectable<MessageRecipientsTable>;
export type NewMessageRecipient = Insertable<MessageRecipientsTable>;
export type MessageEventRow = Selectable<MessageEventsTable>;
export type NewMessageEvent = Insertable<MessageEventsTable>;
export type TemplateRow = Selectable<TemplatesTable>;
export type TemplateVersionRow = Selectable<TemplateVersionsTable>;
export type DomainRow = Selectable<DomainsTable>;
export type DomainDkimKeyRow = Selectable<DomainDkimKeysTable>;
export type DomainEventRow = Selectable<DomainEventsTable>;
export type ContactRow = Selectable<ContactsTable>;
export type AudienceRow = Selectable<AudiencesTable>;
export type AudienceMemberRow = Selectable<AudienceMembersTable>;
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AutomationRow = Selectable<AutomationsTable>;
export type AutomationEnrollmentRow = Selectable<AutomationEnrollmentsTable>;
export type AutomationStepRunRow = Selectable<AutomationStepRunsTable>;
