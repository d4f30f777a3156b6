import { randomHex } from '../../platform/crypto.js';

export const ADMIN_SCOPES = [
  'contacts:read',
  'contacts:write',
  'audiences:manage',
  'automations:read',
  'automations:write',
  'automations:trigger',
  'domains:manage',
  'api-keys:create',
  // extensions: reading emails (status, recipients, captured content) and changing templates are privileges too
  'emails:read',
  'templates:manage',
  // extension: reading and changing the suppression list (README, "Bounces and the suppression list")
  'suppressions:manage',
  // extension: webhook endpoints (they receive every event of the workspace)
  'webhooks:manage',
] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];
export type KeyKind = 'regular' | 'admin';

export const MAX_ADMIN_KEYS_PER_WORKSPACE = 5;

/** The shape every official SDK checks before it will talk to us: lowercase hex only. */
export const KEY_PATTERN = /^kms_([a-f0-9]+)\.(live|adm)_([a-f0-9]+)$/;

export interface MintedKey {
  secretKey: string;
  keyId: string;
}

/** 256 bits of secret; the workspace part is the workspace UUID without dashes. */
export function mintKey(workspaceId: string, kind: KeyKind): MintedKey {
  const ws = workspaceId.replace(/-/g, '').toLowerCase();
  const secret = randomHex(32);
  const marker = kind === 'admin' ? 'adm' : 'live';
  return { secretKey: `kms_${ws}.${marker}_${secret}`, keyId: `kms_${ws}.${marker}_${secret.slice(0, 8)}` };
}

export function isAdminScope(value: string): value is AdminScope {
  return (ADMIN_SCOPES as readonly string[]).includes(value);
}
