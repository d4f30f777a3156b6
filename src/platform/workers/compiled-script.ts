import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The JavaScript file a worker thread runs for the module at `relative` from `base` (an `import.meta.url`).
 * A worker thread cannot load TypeScript, so when the caller runs from the sources (the test runner), this is
 * the module's twin in the build, dist/ (which `npm install` and `npm test` make).
 */
export function compiledScript(relative: string, base: string): URL {
  const beside = new URL(relative, base);
  if (existsSync(fileURLToPath(beside))) return beside;
  const file = fileURLToPath(beside);
  const marker = `${path.sep}src${path.sep}`;
  const at = file.lastIndexOf(marker);
  if (at >= 0) {
    const built = `${file.slice(0, at)}${path.sep}dist${path.sep}${file.slice(at + marker.length)}`;
    if (existsSync(built)) return pathToFileURL(built);
  }
  throw new Error(`${file} is not built: run npm run build (worker threads run the compiled JavaScript in dist/)`);
}
