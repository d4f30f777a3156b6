import { ApiError } from '../platform/http/errors.js';
import type { Services } from './services.js';

type Args = Record<string, unknown>;

const str = (args: Args, name: string, required = true): string | undefined => {
  const v = args[name];
  if (typeof v === 'string' && v !== '') return v;
  if (required) throw new ApiError('VALIDATION_ERROR', `--${name} is required`);
  return undefined;
};

/**
 * Operator commands, run in-process by the CLI or, when an embedded server owns the data folder, inside
 * that server through its admin socket. Same code either way.
 */
export async function runAdminCommand(s: Services, command: string, args: Args): Promise<unknown> {
  switch (command) {
    case 'workspace.create': {
      const created = await s.workspaces.create({ name: str(args, 'name')!, plan: str(args, 'plan', false) ?? 'FREE' });
      // a first sending key too, so a new user can send right away (both are shown only here)
      const sending = await s.keys.createRegularKey({ workspaceId: created.workspace.id, name: 'Default sending key' });
      return { workspace: created.workspace, admin_key: created.adminKey, admin_key_info: created.adminKeyInfo, secret_key: sending.secretKey, api_key: sending.key };
    }
    case 'workspace.list':
      return { workspaces: await s.workspaces.list() };
    case 'workspace.usage': {
      const ws = await s.workspaces.get(str(args, 'workspace')!);
      return { workspace: ws, usage: await s.plans.usage(ws.id, ws.plan) };
    }
    case 'workspace.set-plan':
      return { workspace: await s.workspaces.setPlan(str(args, 'workspace')!, str(args, 'plan')!) };
    case 'admin-key.create': {
      const workspaceId = (await s.workspaces.get(str(args, 'workspace')!)).id;
      const scopesArg = str(args, 'scopes', false);
      const scopes = scopesArg ? scopesArg.split(',').map((x) => x.trim()).filter(Boolean) : undefined;
      const name = str(args, 'name', false);
      const created = await s.keys.createAdminKey({ workspaceId, ...(scopes ? { scopes } : {}), ...(name ? { name } : {}) });
      return { api_key: created.key, secret_key: created.secretKey };
    }
    case 'api-key.create': {
      const workspaceId = (await s.workspaces.get(str(args, 'workspace')!)).id;
      const name = str(args, 'name', false);
      const created = await s.keys.createRegularKey({ workspaceId, ...(name ? { name } : {}) });
      return { api_key: created.key, secret_key: created.secretKey };
    }
    case 'key.list': {
      const workspaceId = (await s.workspaces.get(str(args, 'workspace')!)).id;
      return { keys: await s.keys.list(workspaceId) };
    }
    case 'key.revoke': {
      const workspaceId = (await s.workspaces.get(str(args, 'workspace')!)).id;
      const id = str(args, 'key')!;
      if (!(await s.keys.revoke(workspaceId, id))) throw new ApiError('NOT_FOUND', `Active key ${id} not found in this workspace`);
      return { revoked: id };
    }
    case 'domain.add': {
      const workspaceId = (await s.workspaces.get(str(args, 'workspace')!)).id;
      return { domain: await s.domains.add(workspaceId, { domain: str(args, 'domain')!, region: str(args, 'region', false) }) };
    }
    case 'domain.list': {
      const workspaceId = (await s.workspaces.get(str(args, 'workspace')!)).id;
      return { domains: await s.domains.list(workspaceId) };
    }
    case 'domain.verify': {
      const workspaceId = (await s.workspaces.get(str(args, 'workspace')!)).id;
      return { domain: await s.domains.verify(workspaceId, str(args, 'domain')!) };
    }
    default:
      throw new ApiError('NOT_FOUND', `Unknown command ${command}`);
  }
}
