import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { randomHex } from '../platform/crypto.js';
import { ApiError } from '../platform/http/errors.js';
import { parseSecretKey, SecretBox, SECRET_KEY_BYTES } from '../platform/secret-box.js';

export const SECRET_KEY_FILE = 'secret.key';

/** Why custom domains and webhooks are unavailable on PostgreSQL without SECRET_KEY; also logged once at start. */
export const MISSING_SECRET_KEY =
  'Custom domains need SECRET_KEY (32 random bytes as hex, e.g. from: openssl rand -hex 32) to encrypt DKIM private keys, as webhooks do for their secrets: ' +
  'set the same value on every process that shares DATABASE_URL';

/**
 * The server key that encrypts secrets at rest, resolved when first needed: SECRET_KEY if set; on the
 * embedded database a key generated once into DATA_DIR/secret.key (mode 0600) so `npm start` needs no
 * set-up; on PostgreSQL nothing else (a key kept in the database would protect nothing), so custom domains
 * answer 503 until SECRET_KEY is set.
 */
export function serverSecrets(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'domains'>): () => Promise<SecretBox> {
  let box: Promise<SecretBox> | null = null;
  return () => {
    box ??= resolveKey(config).then(
      (key) => new SecretBox(key),
      (err: unknown) => {
        box = null; // try again next time (the file may have been fixed)
        throw err;
      },
    );
    return box;
  };
}

async function resolveKey(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'domains'>): Promise<Buffer> {
  if (config.domains.secretKey) return config.domains.secretKey;
  if (config.databaseUrl) throw new ApiError('SERVICE_UNAVAILABLE', MISSING_SECRET_KEY);
  // the embedded database is locked to this process, so nobody else can be writing the file right now
  const file = path.join(config.dataDir, SECRET_KEY_FILE);
  try {
    return parseSecretKey(await fs.readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file} is not a valid server key: ${(err as Error).message}`);
  }
  // normally made (0700) when the database was opened; the modes keep both owner-only whatever the umask
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await fs.writeFile(file, `${randomHex(SECRET_KEY_BYTES)}\n`, { mode: 0o600, flag: 'wx' });
  return parseSecretKey(await fs.readFile(file, 'utf8'));
}
