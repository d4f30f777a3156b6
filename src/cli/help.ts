import fs from 'node:fs';
import { COMMANDS, findCommand, GROUPS, optionsOf, subcommandsOf, type CommandSpec, type OptionSpec } from './commands.js';

/** Read when asked, from the package itself (dist/cli and src/cli are both two folders down). */
export function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const column = (rows: [string, string][], indent = '  '): string[] => {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}${right}`);
};

const optionLabel = (o: OptionSpec): string => `${o.name === 'help' ? '-h, ' : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`;

function usageLine(spec: CommandSpec): string {
  const parts = spec.options
    .filter((o) => o.name !== 'print' && o.name !== 'wait')
    .map((o) => {
      if (o.name === 'json') return spec.options.some((p) => p.name === 'print') ? '[--json | --print FIELD]' : '[--json]';
      const label = `--${o.name}${o.value ? ` ${o.value}` : ''}`;
      return o.required ? label : `[${label}]`;
    });
  if (spec.options.some((o) => o.name === 'wait')) parts.push('[--wait SECONDS]');
  return ['keplars-server', spec.name, ...(spec.argument ? [spec.argument.name] : []), ...parts].join(' ');
}

export const EXIT_CODES = [
  '0  done',
  '1  the command was refused or failed (an unknown id, a limit, a configuration error, a busy server, …)',
  '2  the command line is wrong (an unknown command or option, a missing option, a bad value): nothing was run',
];

function overview(): string {
  const singles = COMMANDS.filter((c) => !c.name.includes(' '));
  const lines = [
    `keplars-server ${version()} — self-hosted Keplars-compatible email platform`,
    '',
    'Usage: keplars-server <command> [options]',
    '',
    'Commands:',
    ...column(COMMANDS.map((c) => [c.name, c.summary])),
    '',
    `Help on one command: keplars-server help <command> [subcommand], or keplars-server <command> --help (${[...singles.map((c) => c.name), ...GROUPS].join(', ')}).`,
    'keplars-server --version prints the version.',
    '',
    'Commands with a result print it for people; --json prints it as JSON, --print FIELD one field of it.',
    'They work with or without a running server: on the embedded database (DATA_DIR) a running server is asked',
    'to act through its admin socket; with DATABASE_URL the command uses PostgreSQL directly.',
    'Configuration comes from the environment (PORT, HOST, DATABASE_URL, DATA_DIR, SMTP_URL, DEFAULT_PLAN, …; see README).',
    '',
    'Exit codes:',
    ...EXIT_CODES.map((l) => `  ${l}`),
    'An unexpected error prints its message; --debug (or DEBUG=1) adds the stack trace for a bug report.',
  ];
  return `${lines.join('\n')}\n`;
}

function groupHelp(group: string): string {
  const subs = subcommandsOf(group);
  const lines = [
    `keplars-server ${group} — ${subs.map((c) => c.name.split(' ')[1]).join(', ')}`,
    '',
    ...subs.flatMap((c) => [`  ${usageLine(c)}`, `      ${c.summary}`]),
    '',
    `More on one of them: keplars-server help ${group} <subcommand>, or keplars-server ${group} <subcommand> --help.`,
  ];
  return `${lines.join('\n')}\n`;
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [`keplars-server ${spec.name} — ${spec.summary}`];
  if (spec.details) lines.push('', spec.details);
  lines.push('', `Usage: ${usageLine(spec)}`);
  if (spec.argument) lines.push('', 'Argument:', ...column([[spec.argument.name, spec.argument.description]]));
  lines.push('', 'Options:');
  lines.push(...column(optionsOf(spec).map((o) => [optionLabel(o), `${o.description}${o.required ? ' (required)' : ''}`])));
  if (spec.output.length > 0) lines.push('', `Output fields (--print FIELD): ${spec.output.join(', ')}`);
  if (spec.example) lines.push('', 'Example:', `  ${spec.example}`);
  return `${lines.join('\n')}\n`;
}

/** `''` for the overview, a group (`workspace`) or a command (`workspace create`). */
export function helpText(topic: string): string {
  if (topic === '') return overview();
  const spec = findCommand(topic);
  return spec ? commandHelp(spec) : groupHelp(topic);
}
