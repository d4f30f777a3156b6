import { parseArgs, type ParseArgsConfig } from 'node:util';
import { COMMANDS, findCommand, GROUPS, optionsOf, subcommandsOf, synopsis, type CommandSpec, type OptionSpec } from './commands.js';

/** The command line is wrong: nothing was run. Exit code 2; the message says what to type instead. */
export class UsageError extends Error {
  constructor(
    /** the command as far as it is known (`workspace create`, `workspace`, or '' for none) */
    readonly command: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The one line a wrong command line gets. */
export function usageLine(err: UsageError): string {
  return `keplars-server${err.command ? ` ${err.command}` : ''}: ${err.message}. Try: ${err.hint}`;
}

/** What the command line asks for. */
export type Invocation =
  | { kind: 'version' }
  | { kind: 'help'; topic: string }
  | { kind: 'run'; spec: CommandSpec; values: Record<string, string | boolean | undefined> };

/** A user's value inside a message: quoted, and never longer than a line. */
export function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

function parseOptions(options: readonly OptionSpec[]): ParseOptions {
  const out: ParseOptions = {};
  for (const o of options) out[o.name] = o.value ? { type: 'string' } : { type: 'boolean', ...(o.name === 'help' ? { short: 'h' } : {}) };
  return out;
}

/** Every option of every command (an option has the same type everywhere), to find the command words. */
const ALL_OPTIONS = parseOptions([...new Map(COMMANDS.flatMap(optionsOf).map((o) => [o.name, o])).values()]);

/** Edit distance, for "did you mean"; only ever run on short words. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 40) return undefined;
  // a beginning or a last part (`secret` for secret_key, `id` for workspace.id) names a field well enough
  const partial = candidates.filter((c) => c.startsWith(word) || c.endsWith(`.${word}`)).sort((a, b) => a.length - b.length)[0];
  if (word.length >= 2 && partial) return partial;
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Finds the command named by the words before any option; `help` and `--version` are answered without one. */
export function parseCommandLine(argv: string[]): Invocation {
  const loose = parseArgs({ args: argv, options: ALL_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const words = loose.positionals;
  const asksHelp = loose.values.help === true;
  if (words.length === 0) {
    if (loose.values.version === true) return { kind: 'version' };
    if (asksHelp) return { kind: 'help', topic: '' };
    throw new UsageError('', 'no command given', 'keplars-server help');
  }
  if (words[0] === 'help') return { kind: 'help', topic: helpTopic(words.slice(1)) };

  const [first, second] = words as [string, string | undefined];
  let spec = findCommand(first);
  if (!spec && GROUPS.includes(first)) {
    if (second === undefined) {
      if (asksHelp) return { kind: 'help', topic: first };
      throw new UsageError(first, `which ${first} command? One of: ${subcommandsOf(first).map((c) => c.name.split(' ')[1]).join(', ')}`, `keplars-server help ${first}`);
    }
    spec = findCommand(`${first} ${second}`);
    if (!spec) {
      const actions = subcommandsOf(first).map((c) => c.name.split(' ')[1]!);
      const guess = closest(second, actions);
      throw new UsageError(first, `unknown subcommand ${shown(second)}${guess ? ` (did you mean '${guess}'?)` : ''}; one of: ${actions.join(', ')}`, `keplars-server help ${first}`);
    }
  }
  if (!spec) {
    const guess = closest(first, [...COMMANDS.map((c) => c.name.split(' ')[0]!), 'help']);
    throw new UsageError('', `unknown command ${shown(first)}${guess ? ` (did you mean '${guess}'?)` : ''}`, 'keplars-server help');
  }
  // --help wins over anything else on the line, so a half-typed command can still ask how it goes on
  if (asksHelp) return { kind: 'help', topic: spec.name };
  // the command words are the first positionals; options may stand before them (keplars-server --debug start)
  const wordIndexes = new Set(loose.tokens.filter((t) => t.kind === 'positional').slice(0, spec.name.split(' ').length).map((t) => t.index));
  return { kind: 'run', spec, values: parseOptionsOf(spec, argv.filter((_, i) => !wordIndexes.has(i))) };
}

/** `help`, `help workspace`, `help workspace create`: the topic must exist. */
function helpTopic(words: string[]): string {
  const topic = words.slice(0, 2).join(' ');
  if (topic === '' || findCommand(topic) || (words.length === 1 && GROUPS.includes(topic))) return topic;
  if (words.length === 2 && findCommand(words[0]!)) return words[0]!;
  const guess = closest(topic, [...COMMANDS.map((c) => c.name), ...GROUPS]);
  throw new UsageError('help', `no command ${shown(topic)}${guess ? ` (did you mean '${guess}'?)` : ''}`, 'keplars-server help');
}

/** Strict parsing of the options of one command, then the table's checks: required, choices, seconds, --print. */
function parseOptionsOf(spec: CommandSpec, args: string[]): Record<string, string | boolean | undefined> {
  const options = optionsOf(spec);
  const fail = (message: string, hint = `keplars-server ${spec.name} --help`) => new UsageError(spec.name, message, hint);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: parseOptions(options), strict: true, allowPositionals: true });
  } catch (err) {
    throw optionError(err, spec, options, fail);
  }
  const expected = spec.argument ? 1 : 0;
  if (parsed.positionals.length > expected) throw fail(`unexpected argument ${shown(parsed.positionals[expected]!)} (a value with spaces needs quotes: --name "My team")`);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (spec.argument) {
    const given = parsed.positionals[0];
    if (given === undefined || given.trim() === '') throw fail(`${spec.argument.name} is required`, synopsis(spec));
    values[spec.argument.name.toLowerCase()] = given;
  }
  for (const o of options) {
    const v = values[o.name];
    if (typeof v !== 'string') {
      if (o.required) throw fail(`--${o.name} is required`, synopsis(spec));
      continue;
    }
    if (v.trim() === '') throw fail(`--${o.name} needs a value`, synopsis(spec));
    if (o.seconds && !/^\d{1,6}$/.test(v)) throw fail(`--${o.name} must be a whole number of seconds, not ${shown(v)}`);
    if (o.choices) {
      const items = o.list ? v.split(',').map((x) => x.trim()).filter(Boolean) : [v];
      const bad = items.find((x) => !o.choices!.some((c) => c.toLowerCase() === x.toLowerCase()));
      if (bad !== undefined || items.length === 0) {
        throw fail(`--${o.name} must be ${o.list ? 'a comma-separated list of' : 'one of'} ${o.choices.join(', ')}${bad !== undefined ? `, not ${shown(bad)}` : ''}`);
      }
    }
  }
  const field = values.print;
  if (typeof field === 'string' && !spec.output.includes(field)) {
    const guess = closest(field, spec.output);
    const fields = spec.output.filter((f) => !f.includes('.')).join(', ');
    const sub = spec.output.find((f) => f.includes('.'));
    throw fail(
      `the result of ${spec.name} has no field ${shown(field)}${guess ? ` (did you mean '${guess}'?)` : ''}; its fields are ${fields}${sub ? ` and their sub-fields such as ${sub}` : ''}`,
      `keplars-server help ${spec.name}`,
    );
  }
  return values;
}

/** node's parseArgs errors, said our way. */
function optionError(err: unknown, spec: CommandSpec, options: OptionSpec[], fail: (m: string, h?: string) => UsageError): Error {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const name = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const guess = closest(name.replace(/^-+/, ''), options.map((o) => o.name));
    return fail(`unknown option ${shown(name)}${guess ? ` (did you mean --${guess}?)` : ''}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const option = options.find((o) => `--${o.name}` === name);
    if (option && !option.value) return fail(`--${option.name} takes no value`);
    if (option) return fail(`--${option.name} needs a value`, synopsis(spec));
  }
  return err as Error;
}
