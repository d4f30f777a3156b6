import { formatDomain, formatDomainList } from './format-domains.js';

/** Plain-text rendering of command results for people; --json gives the machine-readable form. */
export function formatHuman(command: string, result: unknown): string {
  const r = result as Record<string, unknown>;
  switch (command) {
    case 'workspace.create': {
      const ws = r.workspace as { id: string; name: string; plan: string };
      return [
        `Workspace created: ${ws.name} (${ws.plan})`,
        `  id:        ${ws.id}`,
        `  admin key:   ${String(r.admin_key)}`,
        `  sending key: ${String(r.secret_key)}`,
        '',
        'Both keys are shown only once: store them now.',
        '',
      ].join('\n');
    }
    case 'workspace.list': {
      const list = r.workspaces as { id: string; name: string; plan: string; created_at: string }[];
      if (list.length === 0) return 'No workspaces yet. Create one: keplars-server workspace create --name "My team"\n';
      return `${list.map((w) => `${w.id}  ${w.plan.padEnd(10)}  ${w.name}`).join('\n')}\n`;
    }
    case 'workspace.usage': {
      const u = r.usage as { plan: string; period: string; used: number; monthly_quota: number | null; remaining: number | null; resets_at: string };
      const quota = u.monthly_quota === null ? 'no quota' : `${u.used} of ${u.monthly_quota} used, ${u.remaining} left`;
      return `${u.period} on ${u.plan}: ${quota} (resets ${u.resets_at})\n`;
    }
    case 'workspace.set-plan': {
      const ws = r.workspace as { id: string; plan: string };
      return `Workspace ${ws.id} is now on ${ws.plan}\n`;
    }
    case 'workspace.set-tracking': {
      const ws = r.workspace as { id: string };
      const t = r.tracking as { opens: boolean; clicks: boolean };
      const word = (on: boolean) => (on ? 'on' : 'off');
      return `Workspace ${ws.id}: open tracking ${word(t.opens)}, click tracking ${word(t.clicks)} by default\n`;
    }
    case 'workspace.set-timezone': {
      const ws = r.workspace as { id: string };
      return `Workspace ${ws.id}: date_time automation triggers fire in ${String(r.timezone)} for contacts without a time zone of their own\n`;
    }
    case 'admin-key.create':
    case 'api-key.create':
      return `${String(r.secret_key)}\n\nShown only once: store it now.\n`;
    case 'key.list': {
      const keys = r.keys as { id: string; key_id: string; kind: string; name: string; is_active: boolean; scopes: string[] }[];
      return `${keys.map((k) => `${k.id}  ${k.kind.padEnd(7)}  ${k.is_active ? 'active ' : 'revoked'}  ${k.key_id}…  ${k.name}${k.scopes.length ? `  [${k.scopes.join(',')}]` : ''}`).join('\n')}\n`;
    }
    case 'domain.add':
    case 'domain.verify':
      return formatDomain(r.domain as Parameters<typeof formatDomain>[0]);
    case 'domain.list':
      return formatDomainList(r.domains as Parameters<typeof formatDomainList>[0]);
    case 'suppression.list': {
      const list = r.suppressions as { email: string; scope: string; reason: string; created_at: string }[];
      if (list.length === 0) return 'No suppressed addresses.\n';
      return `${list.map((e) => `${e.created_at}  ${e.scope.padEnd(4)}  ${e.reason.padEnd(11)}  ${e.email}`).join('\n')}\n`;
    }
    case 'suppression.add': {
      const e = r.suppression as { email: string; scope: string; reason: string };
      return r.added ? `${e.email} is suppressed (${e.scope}, ${e.reason})\n` : `${e.email} was already suppressed (${e.scope}, ${e.reason})\n`;
    }
    case 'suppression.remove':
      return `${String(r.email)} is reactivated: the next email to it goes out\n`;
    case 'webhook.add': {
      const w = r.webhook as { id: string; url: string; events: string[]; signature_scheme: string; secret: string };
      return [`Webhook added: ${w.url}`, `  id:      ${w.id}`, `  events:  ${w.events.join(', ')}`, `  scheme:  ${w.signature_scheme}`, `  secret:  ${w.secret}`, '', 'The secret is shown only once: store it now.', ''].join('\n');
    }
    case 'webhook.list': {
      const list = r.webhooks as { id: string; url: string; events: string[]; status: string; signature_scheme: string; failing_since: string | null }[];
      if (list.length === 0) return 'No webhook endpoints. Add one: keplars-server webhook add --workspace <id> --url <url>\n';
      return `${list.map((w) => `${w.id}  ${w.status.padEnd(8)}  ${w.signature_scheme}  ${w.url}  [${w.events.join(',')}]${w.failing_since ? `  failing since ${w.failing_since}` : ''}`).join('\n')}\n`;
    }
    case 'webhook.remove':
      return `Webhook ${String(r.removed)} removed\n`;
    case 'webhook.test': {
      const t = r.result as { success: boolean; status_code: number | null; latency_ms: number; error: string | null };
      return t.success ? `Delivered: the receiver answered ${t.status_code} in ${t.latency_ms} ms\n` : `Not delivered (${t.latency_ms} ms): ${t.error ?? `answered ${t.status_code}`}\n`;
    }
    case 'automation.list': {
      const list = r.automations as { id: string; name: string; status: string; trigger_type: string; enrolled_count: number; active_count: number }[];
      if (list.length === 0) return 'No automations. Create one with the API: POST /api/v1/automations (README, "Automations")\n';
      return `${list.map((a) => `${a.id}  ${a.status.padEnd(8)}  ${a.trigger_type.padEnd(25)}  ${a.active_count} running, ${a.enrolled_count} enrolled  ${a.name}`).join('\n')}\n`;
    }
    case 'automation.show':
    case 'automation.activate':
    case 'automation.pause':
      return formatAutomation(r.automation as AutomationText);
    default:
      return `${JSON.stringify(result, null, 2)}\n`;
  }
}

/** `--print a.b` prints one field of the result as plain text, for shell substitution. */
export function pickField(result: unknown, path: string): string {
  let value: unknown = result;
  for (const part of path.split('.')) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (value === undefined) throw new Error(`The result has no field '${path}'`);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

interface AutomationText {
  id: string;
  name: string;
  status: string;
  version: number;
  trigger: { type: string; config: Record<string, unknown> };
  enrolled_count: number;
  completed_count: number;
  active_count: number;
  steps: { id: string; type: string; next?: string | null; on_true?: string | null; on_false?: string | null }[];
}

/** An automation and its steps, one a line with where each goes next. */
function formatAutomation(a: AutomationText): string {
  const next = (s: AutomationText['steps'][number]): string => {
    if (s.type === 'condition') return `yes → ${s.on_true ?? 'end'}, no → ${s.on_false ?? 'end'}`;
    if (s.type === 'exit') return 'end';
    return `→ ${s.next ?? 'end'}`;
  };
  return [
    `${a.name} (${a.status}, version ${a.version})`,
    `  id:       ${a.id}`,
    `  trigger:  ${a.trigger.type}${Object.keys(a.trigger.config).length > 0 ? ` ${JSON.stringify(a.trigger.config)}` : ''}`,
    `  contacts: ${a.active_count} running, ${a.enrolled_count} enrolled, ${a.completed_count} completed`,
    '  steps:',
    ...a.steps.map((s, i) => `    ${i + 1}. ${s.id}  ${s.type}  ${next(s)}`),
    '',
  ].join('\n');
}
