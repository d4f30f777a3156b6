import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The layering rules of eslint.config.js (README, "Development") still bite: small files that exist only in
 * memory, placed in each layer, are linted with the project's own configuration. A change to the config that
 * drops or loosens a rule fails here, not silently.
 */
const repo = fileURLToPath(new URL('..', import.meta.url));
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: repo });
});

/** The layering complaints (no-restricted-imports) ESLint makes about `code` placed at `file`. */
async function complaints(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${repo}${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' || m.fatal).map((m) => m.message);
}

const importing = (source: string) => `import { x } from '${source}';\nexport const y = x;\n`;

describe('layering rules', () => {
  it.each([
    ['src/platform/probe.ts', '../modules/emails/index.js', 'platform/ is the lowest layer'],
    ['src/platform/db/probe.ts', '../../modules/emails/index.js', 'platform/ is the lowest layer'],
    ['src/platform/mail/dkim/probe.ts', '../../../modules/delivery/index.js', 'platform/ is the lowest layer'],
    ['src/platform/queue/probe.ts', '../../workers/job-worker.js', 'platform/ is the lowest layer'],
    ['src/platform/http/probe.ts', '../../config/config.js', 'platform/ is the lowest layer'],
    ['src/platform/probe.ts', '../app/app.js', 'platform/ is the lowest layer'],
    ['src/platform/probe.ts', '../cli/main.js', 'platform/ is the lowest layer'],
    ['src/config/probe.ts', '../modules/plans/index.js', 'config/ may import platform/ only'],
    ['src/config/probe.ts', '../app/services.js', 'config/ may import platform/ only'],
    ['src/config/probe.ts', '../workers/job-worker.js', 'config/ may import platform/ only'],
    ['src/modules/hosted/probe.ts', '../emails/store.js', 'through its public face'],
    ['src/modules/domains/probe.ts', '../keys/service.js', 'through its public face'],
    ['src/modules/hosted/probe.ts', '../../app/services.js', 'not workers/, app/ or cli/'],
    ['src/modules/domains/probe.ts', '../../workers/job-worker.js', 'not workers/, app/ or cli/'],
    ['src/workers/probe.ts', '../modules/delivery/store.js', 'through its public face'],
    ['src/workers/probe.ts', '../app/app.js', 'Only cli/ imports app/'],
    ['src/app/probe.ts', '../modules/templates/tasks.js', 'through its public face'],
    ['src/cli/probe.ts', '../modules/domains/views.js', 'through its public face'],
  ])('%s may not import %s', async (file, source, complaint) => {
    const found = await complaints(file, importing(source));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(complaint);
  });

  it('sees type-only imports and re-exports too', async () => {
    expect(await complaints('src/modules/hosted/probe.ts', "import type { EmailRow } from '../emails/store.js';\nexport type R = EmailRow;\n")).toHaveLength(1);
    expect(await complaints('src/modules/hosted/probe.ts', "export { findEmail } from '../emails/store.js';\n")).toHaveLength(1);
    expect(await complaints('src/platform/probe.ts', "export * from '../modules/emails/index.js';\n")).toHaveLength(1);
  });

  it.each([
    ['src/platform/queue/probe.ts', '../workers/content-pool.js'], // platform's own workers/ folder, not src/workers/
    ['src/platform/db/probe.ts', '../lifecycle.js'],
    ['src/config/probe.ts', '../platform/lifecycle.js'],
    ['src/modules/hosted/probe.ts', '../emails/index.js'],
    ['src/modules/hosted/probe.ts', './routes.js'],
    ['src/modules/domains/probe.ts', '../../platform/queue/jobs-store.js'],
    ['src/modules/sending/probe.ts', '../../config/config.js'],
    ['src/workers/probe.ts', '../modules/delivery/index.js'],
    ['src/app/probe.ts', '../workers/delivery-worker.js'],
    ['src/app/probe.ts', '../modules/templates/thread.js'], // a module's face for content threads
    ['src/cli/probe.ts', '../modules/keys/words.js'], // a module's light face of names
    ['src/cli/probe.ts', '../app/app.js'],
    ['src/platform/probe.test.ts', '../modules/emails/index.js'], // tests may reach anywhere
  ])('%s may import %s', async (file, source) => {
    expect(await complaints(file, importing(source))).toEqual([]);
  });
});
