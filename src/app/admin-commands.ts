import fs from 'node:fs';
import { automationDetailView } from '../modules/automations/index.js';
import { importView } from '../modules/contacts/index.js';
import { isValidEmail } from '../modules/sending/index.js';
import type { SuppressionEntry } from '../modules/suppressions/index.js';
import { SUPPRESSION_REASONS } from '../platform/db/schema.js';
import { ApiError } from '../platform/http/errors.js';
import { isUuid } from '../platform/ids.js';
import type { Services } from './services.js';

type Args = Record<string, unknown>;

const suppressionView = (e: SuppressionEntry) => ({ email: e.email, scope: e.scope, reason: e.reason, source_email_id: e.source_email_id, created_at: e.created_at.toISOString() });

const str = (args: Args, name: string, required = true): string | undefined => {
  const v = args[name];
  if (typeof v === 'string' && v !== '') return v;
  if (required) throw new ApiError('VALIDATION_ERROR', `--${name} is required`);
  return undefined;
};

/** The workspace named by --workspace; an unknown id says how to find the right one. */
async function workspaceOf(s: Services, args: Args) {
  const id = str(args, 'workspace')!;
  try {
    return await s.workspaces.get(id);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NOT_FOUND') throw new ApiError('NOT_FOUND', `${err.message}. Try: keplars-server workspace list`);
    throw err;
  }
}

/** An unknown key or domain id in a known workspace: the listing command that shows the right ones. */
async function orListing<T>(work: Promise<T>, listing: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NOT_FOUND') throw new ApiError('NOT_FOUND', `${err.message}. Try: ${listing}`);
    throw err;
  }
}

/**
 * Operator commands, run in-process by the CLI or, when an embedded server owns the data folder, inside
 * that server through its admin socket. Same code either way.
 */
export async function runAdminCommand(s: Services, command: string, args: Args): Promise<unknown> {
  switch (command) {
    case 'workspace.create': {
      // without --plan, the workspace gets DEFAULT_PLAN
      const plan = str(args, 'plan', false);
      const created = await s.workspaces.create({ name: str(args, 'name')!, ...(plan ? { plan } : {}) });
      // a first sending key too, so a new user can send right away (both are shown only here)
      const sending = await s.keys.createRegularKey({ workspaceId: created.workspace.id, name: 'Default sending key' });
      return { workspace: created.workspace, admin_key: created.adminKey, admin_key_info: created.adminKeyInfo, secret_key: sending.secretKey, api_key: sending.key };
    }
    case 'workspace.list':
      return { workspaces: await s.workspaces.list() };
    case 'workspace.usage': {
      const ws = await workspaceOf(s, args);
      return { workspace: ws, usage: await s.plans.usage(ws.id, ws.plan) };
    }
    case 'workspace.set-plan':
      return { workspace: await s.workspaces.setPlan((await workspaceOf(s, args)).id, str(args, 'plan')!) };
    case 'workspace.set-tracking': {
      const opens = str(args, 'opens', false);
      const clicks = str(args, 'clicks', false);
      return s.workspaces.setTracking((await workspaceOf(s, args)).id, { ...(opens ? { opens } : {}), ...(clicks ? { clicks } : {}) });
    }
    case 'workspace.set-timezone':
      return s.workspaces.setTimezone((await workspaceOf(s, args)).id, str(args, 'zone')!);
    case 'admin-key.create': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const scopesArg = str(args, 'scopes', false);
      const scopes = scopesArg ? scopesArg.split(',').map((x) => x.trim()).filter(Boolean) : undefined;
      const name = str(args, 'name', false);
      const created = await s.keys.createAdminKey({ workspaceId, ...(scopes ? { scopes } : {}), ...(name ? { name } : {}) });
      return { api_key: created.key, secret_key: created.secretKey };
    }
    case 'api-key.create': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const name = str(args, 'name', false);
      const created = await s.keys.createRegularKey({ workspaceId, ...(name ? { name } : {}) });
      return { api_key: created.key, secret_key: created.secretKey };
    }
    case 'key.list': {
      const workspaceId = (await workspaceOf(s, args)).id;
      return { keys: await s.keys.list(workspaceId) };
    }
    case 'key.revoke': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const id = str(args, 'key')!;
      if (!isUuid(id) || !(await s.keys.revoke(workspaceId, id))) {
        throw new ApiError('NOT_FOUND', `Active key ${id} not found in this workspace. Try: keplars-server key list --workspace ${workspaceId}`);
      }
      return { revoked: id };
    }
    case 'domain.add': {
      const workspaceId = (await workspaceOf(s, args)).id;
      return { domain: await s.domains.add(workspaceId, { domain: str(args, 'domain')!, region: str(args, 'region', false) }) };
    }
    case 'domain.list': {
      const workspaceId = (await workspaceOf(s, args)).id;
      return { domains: await s.domains.list(workspaceId) };
    }
    case 'domain.verify': {
      const workspaceId = (await workspaceOf(s, args)).id;
      return { domain: await orListing(s.domains.verify(workspaceId, str(args, 'domain')!), `keplars-server domain list --workspace ${workspaceId}`) };
    }
    case 'suppression.list': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const reason = SUPPRESSION_REASONS.find((r) => r === str(args, 'reason', false)?.toLowerCase());
      const email = str(args, 'email', false);
      const rows = await s.suppressions.list({ workspaceId, limit: 1000, ...(reason ? { reason } : {}), ...(email ? { email } : {}) });
      return { suppressions: rows.map(suppressionView) };
    }
    case 'suppression.add': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const email = str(args, 'email')!.trim();
      if (!isValidEmail(email)) throw new ApiError('VALIDATION_ERROR', `--email has an invalid email address: ${JSON.stringify(email.slice(0, 100))}`);
      const scope = str(args, 'scope', false)?.toLowerCase() === 'bulk' ? 'bulk' : 'all';
      const added = await s.suppressions.add({ workspaceId, email, scope, reason: 'manual' });
      const entry = (await s.suppressions.find(workspaceId, email)).find((e) => e.scope === scope)!;
      return { suppression: suppressionView(entry), added };
    }
    case 'suppression.remove': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const email = str(args, 'email')!.trim();
      const removed = await s.suppressions.remove(workspaceId, email);
      if (removed.length === 0) throw new ApiError('NOT_FOUND', `${email} is not suppressed in this workspace. Try: keplars-server suppression list --workspace ${workspaceId}`);
      return { email, removed: removed.map(suppressionView) };
    }
    case 'webhook.add': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const events = str(args, 'events', false);
      const scheme = str(args, 'scheme', false)?.toLowerCase();
      return {
        webhook: await s.webhooks.create(workspaceId, {
          url: str(args, 'url')!,
          events: events ? events.split(',').map((e) => e.trim()).filter(Boolean) : ['*'],
          signature_scheme: scheme === 's2' || scheme === 's3' ? scheme : 's1',
          secret: str(args, 'secret', false),
          description: str(args, 'description', false) ?? null,
        }),
      };
    }
    case 'webhook.list':
      return { webhooks: await s.webhooks.list((await workspaceOf(s, args)).id) };
    case 'webhook.remove': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const id = str(args, 'webhook')!;
      await orListing(s.webhooks.delete(workspaceId, id), `keplars-server webhook list --workspace ${workspaceId}`);
      return { removed: id };
    }
    case 'webhook.test': {
      const workspaceId = (await workspaceOf(s, args)).id;
      return { result: await orListing(s.webhooks.test(workspaceId, str(args, 'webhook')!), `keplars-server webhook list --workspace ${workspaceId}`) };
    }
    case 'automation.list': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const page = await s.automations.list(workspaceId, { limit: 1000 });
      return { automations: page.automations.map(automationDetailView) };
    }
    case 'automation.show':
    case 'automation.activate':
    case 'automation.pause': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const id = str(args, 'automation')!;
      const listing = `keplars-server automation list --workspace ${workspaceId}`;
      const work = command === 'automation.show' ? s.automations.get(workspaceId, id) : s.automations.transition(workspaceId, id, command === 'automation.activate' ? 'active' : 'paused');
      return { automation: automationDetailView(await orListing(work, listing)) };
    }
    // `contacts import` when this server holds the embedded database: it reads the file (the CLI runs on
    // the same machine) and imports it as a job, which the CLI follows with import-status
    case 'contacts.import-file': {
      const workspaceId = (await workspaceOf(s, args)).id;
      const audienceId = str(args, 'audience', false);
      const file = fs.createReadStream(str(args, 'file')!);
      const id = await s.contactImports.begin(workspaceId, audienceId);
      try {
        await s.contactImports.store(id, file);
        return { import: importView(await s.contactImports.submit(workspaceId, id, { ...(audienceId ? { audienceId } : {}), enqueue: true })) };
      } catch (err) {
        file.destroy();
        await s.contactImports.discard(id);
        throw err;
      }
    }
    case 'contacts.import-status': {
      const workspaceId = (await workspaceOf(s, args)).id;
      return { import: importView(await s.contactImports.get(workspaceId, str(args, 'id')!)) };
    }
    default:
      throw new ApiError('NOT_FOUND', `Unknown command ${command}`);
  }
}
