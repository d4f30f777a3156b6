import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The layers of src/, lowest first (README, "Development"):
 *   platform/  infrastructure without business rules (and the lifecycle's words): imports nothing else of ours
 *   config/    environment → typed settings: may import platform/
 *   modules/   one folder per capability: platform/, config/, and another module only through its index.ts
 *              (or its light faces: thread.ts, what a content thread runs, and words.ts, the names a caller may
 *              use without loading the module's database and HTTP code, as the CLI's help does)
 *   workers/   long-running loops: platform/, config/, modules' index.ts
 *   app/       wires everything together: anything above, modules through their index.ts
 *   cli/       the command line: the only importer of app/
 * Tests (`*.test.ts`, test/) may import anything.
 *
 * The built-in no-restricted-imports sees only the import string, never the file it resolves to, so each rule is
 * written for a file's depth below its layer: `../` from src/platform/db/ is still platform/, `../../` is src/.
 * One block per (layer, depth), because a later block for the same rule replaces an earlier one's options.
 */
const MAX_DEPTH = 5;
const up = (n) => `(\\.\\./){${n}}`;
const named = (folders) => `(${folders.join('|')})(/|$)`;
const rule = (regex, message) => ({ regex: `^${regex}`, message, caseSensitive: true });

const deepModule = rule(
  `(\\.\\./)+modules/[^/]+/(?!(index|thread|words)\\.js$)`,
  "Import a module through its public face, src/modules/<module>/index.ts, not its internals.",
);
const onlyCliImportsApp = (depth) => rule(`${up(depth + 1)}app(/|$)`, 'Only cli/ imports app/ (and tests).');

/** patterns for a file `depth` folders below src/<layer>/ */
const LAYERS = {
  platform: (depth) => [
    rule(`${up(depth + 1)}${named(['modules', 'app', 'workers', 'config', 'cli'])}`, 'platform/ is the lowest layer: it imports nothing from modules/, config/, workers/, app/ or cli/.'),
  ],
  config: (depth) => [rule(`${up(depth + 1)}${named(['modules', 'app', 'workers', 'cli'])}`, 'config/ may import platform/ only.')],
  workers: (depth) => [rule(`${up(depth + 1)}${named(['cli'])}`, 'workers/ does not import cli/.'), onlyCliImportsApp(depth), deepModule],
  app: (depth) => [rule(`${up(depth + 1)}${named(['cli'])}`, 'app/ does not import cli/.'), deepModule],
  cli: () => [deepModule],
};

/** patterns for a file `depth` folders below its own module folder, src/modules/<module>/ */
const modulePatterns = (depth) => [
  rule(`${up(depth + 2)}${named(['app', 'workers', 'cli'])}`, 'A module imports platform/, config/ and other modules’ index.ts only: not workers/, app/ or cli/.'),
  rule(
    `${up(depth + 1)}[^./][^/]*/(?!(index|thread|words)\\.js$)`,
    "Import another module through its public face, '../<module>/index.js', not its internals.",
  ),
];

const depths = Array.from({ length: MAX_DEPTH + 1 }, (_, depth) => depth);
const inFolder = (base, depth) => [`${base}/${'*/'.repeat(depth)}*.ts`];
const layerBlocks = [
  ...Object.entries(LAYERS).flatMap(([layer, patterns]) =>
    depths.map((depth) => ({ files: inFolder(`src/${layer}`, depth), patterns: patterns(depth) })),
  ),
  ...depths.map((depth) => ({ files: inFolder('src/modules/*', depth), patterns: modulePatterns(depth) })),
].map(({ files, patterns }) => ({
  files,
  ignores: ['**/*.test.ts'],
  rules: { 'no-restricted-imports': ['error', { patterns }] },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  ...layerBlocks,
  {
    // deeper than the blocks above reach: refuse rather than leave a file unchecked
    files: [`src/{${Object.keys(LAYERS).join(',')}}/${'*/'.repeat(MAX_DEPTH + 1)}**/*.ts`, `src/modules/*/${'*/'.repeat(MAX_DEPTH + 1)}**/*.ts`],
    rules: { 'no-restricted-syntax': ['error', { selector: 'Program', message: `Nest src/ at most ${MAX_DEPTH} folders deep, or raise MAX_DEPTH in eslint.config.js.` }] },
  },
);
