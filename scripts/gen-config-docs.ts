// Generates docs/configuration.md from the yargs definitions of every `raftis` command, so the
// page cannot drift from the code: `npm run docs:config` rewrites it, `--check` only compares,
// and test/unit/config-docs.test.ts fails when the committed page differs from this output.
//
// Each command's real builder (the function `raftis` itself hands to yargs) is applied to a fresh
// yargs instance, and the options are read back from it: types, defaults, choices, aliases and
// required flags from `getOptions()` / `getDemandedOptions()`, descriptions from the usage
// instance. Those are yargs 17 methods that @types/yargs does not declare, hence the narrow
// interface below. Nothing is parsed and no handler runs.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { benchCommand } from '../src/cli/commands/bench.js';
import { checkHistoryCommand } from '../src/cli/commands/check-history.js';
import { cliCommand } from '../src/cli/commands/cli.js';
import { clusterCommand } from '../src/cli/commands/cluster.js';
import { maelstromCommand } from '../src/cli/commands/maelstrom.js';
import { serverCommand } from '../src/cli/commands/server.js';
import { statusCommand } from '../src/cli/commands/status.js';

/** The commands in the order the page shows them (the order `raftis --help` lists them). */
export const DOCUMENTED_COMMANDS: readonly CommandModule<any, any>[] = [
  serverCommand, clusterCommand, statusCommand, cliCommand, checkHistoryCommand, benchCommand, maelstromCommand,
];

export const CONFIGURATION_DOC_PATH = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

/** What yargs 17 keeps of the declared options (the parts this generator reads). */
interface YargsOptions {
  readonly key: Readonly<Record<string, boolean>>;
  readonly alias: Readonly<Record<string, readonly string[]>>;
  readonly default: Readonly<Record<string, unknown>>;
  readonly boolean: readonly string[];
  readonly string: readonly string[];
  readonly number: readonly string[];
  readonly array: readonly string[];
  readonly count: readonly string[];
  readonly choices: Readonly<Record<string, readonly unknown[]>>;
  readonly config: Readonly<Record<string, boolean>>;
}

interface YargsIntrospection {
  getOptions(): YargsOptions;
  getDemandedOptions(): Readonly<Record<string, unknown>>;
  getInternalMethods(): { getUsageInstance(): { getDescriptions(): Readonly<Record<string, string | undefined>> } };
}

/** One flag or positional argument as the page shows it. */
export interface OptionDoc {
  readonly name: string;
  readonly aliases: readonly string[];
  /** `number`, `string`, `boolean`, `array`, `count`, or the choices. */
  readonly type: string;
  /** Rendered default, or undefined when there is none. */
  readonly defaultText: string | undefined;
  readonly required: boolean;
  readonly description: string;
  /** Whether a JSON file given with this command's `config` option may set it. */
  readonly configKey: boolean;
}

export interface CommandDoc {
  /** The usage line after `raftis`, as declared: `server`, `cluster <action>`. */
  readonly usage: string;
  readonly summary: string;
  readonly positionals: readonly OptionDoc[];
  readonly options: readonly OptionDoc[];
  /** The option that names a JSON config file (`config: true`), if the command has one. */
  readonly configOption: string | undefined;
}

/** yargs's own --help and --version, present on every instance: not raftis's options. */
const BUILT_IN = new Set(['help', 'version']);
/** The prefix yargs puts on descriptions of its built-in options. */
const YARGS_STRING = '__yargsString__:';

function typeOf(options: YargsOptions, key: string): string {
  const choices = options.choices[key];
  if (choices !== undefined && choices.length > 0) return choices.map((choice) => JSON.stringify(choice)).join(' \\| ');
  for (const type of ['boolean', 'number', 'string', 'array', 'count'] as const) {
    if (options[type].includes(key)) return type;
  }
  return 'any';
}

function renderValue(value: unknown): string {
  // An empty string would make an empty code span, which Markdown does not render.
  return typeof value === 'string' && value !== '' ? value : JSON.stringify(value);
}

/**
 * Applies a command's real builder to a fresh yargs instance and reads back what it declared.
 * `fallbackDescriptions` fills options declared without a description.
 */
export function describeCommand(command: CommandModule<unknown, unknown>, fallbackDescriptions: ReadonlyMap<string, string> = new Map()): CommandDoc {
  const usage = typeof command.command === 'string' ? command.command : String(command.command?.[0] ?? '');
  const instance = yargs([]);
  const builder = command.builder;
  if (typeof builder !== 'function') throw new Error(`raftis ${usage}: expected a builder function`);
  const built = ((builder as (y: Argv) => Argv | undefined)(instance) ?? instance) as unknown as YargsIntrospection;
  const options = built.getOptions();
  const demanded = new Set(Object.keys(built.getDemandedOptions()));
  const descriptions = built.getInternalMethods().getUsageInstance().getDescriptions();
  const aliasNames = new Set(Object.values(options.alias).flat());
  // Positional arguments come from the usage line: <name> is required, [name] optional, and
  // name.. takes every remaining word.
  const positionalNames = new Map<string, { required: boolean; variadic: boolean }>();
  for (const match of usage.matchAll(/([<[])([a-z][a-z0-9-]*)(\.\.)?[>\]]/g)) {
    positionalNames.set(match[2] as string, { required: match[1] === '<', variadic: match[3] !== undefined });
  }
  const configOption = Object.keys(options.config).find((key) => options.config[key]);
  const describe = (key: string, required: boolean): OptionDoc => {
    let description = descriptions[key] ?? fallbackDescriptions.get(key) ?? '';
    let defaultText = key in options.default ? renderValue(options.default[key]) : undefined;
    // A default computed at run time is written at the end of the description: `[default: port + 10000]`.
    const computed = /\s*\[default: ([^\]]+)\]$/.exec(description);
    if (computed) {
      description = description.slice(0, computed.index);
      defaultText ??= computed[1] as string;
    }
    return {
      name: key,
      aliases: options.alias[key] ?? [],
      type: typeOf(options, key),
      defaultText,
      required,
      description,
      configKey: configOption !== undefined && key !== configOption,
    };
  };
  const positionals = [...positionalNames].map(([key, { required, variadic }]) => {
    const option = describe(key, required);
    return variadic ? { ...option, type: `${option.type}...` } : option;
  });
  const flags = Object.keys(options.key)
    .filter((key) => !BUILT_IN.has(key) && !aliasNames.has(key) && !positionalNames.has(key))
    .map((key) => describe(key, demanded.has(key)));
  for (const option of [...positionals, ...flags]) {
    if (option.description.startsWith(YARGS_STRING)) throw new Error(`raftis ${usage}: unexpected built-in option ${option.name}`);
  }
  return { usage, summary: String(command.describe ?? ''), positionals, options: flags, configOption };
}

/** Markdown table cells: a pipe would end the cell, angle brackets would read as HTML. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function flagCell(option: OptionDoc): string {
  const names = [`--${option.name}`, ...option.aliases.map((alias) => (alias.length === 1 ? `-${alias}` : `--${alias}`))];
  return names.map((name) => `\`${name}\``).join(', ');
}

function defaultCell(option: OptionDoc): string {
  if (option.required) return 'required';
  return option.defaultText === undefined ? '—' : `\`${option.defaultText.replace(/\|/g, '\\|')}\``;
}

function descriptionCell(option: OptionDoc): string {
  return option.description === '' ? '—' : cell(option.description);
}

function anchor(usage: string): string {
  return `raftis-${usage}`.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}

function renderCommand(doc: CommandDoc): string {
  const lines: string[] = [`## \`raftis ${doc.usage}\``, '', `> ${doc.summary}`, ''];
  if (doc.configOption !== undefined) {
    lines.push(
      `Every option except \`--${doc.configOption}\` can also be set in a JSON file named by`,
      `\`--${doc.configOption} FILE\`, with the flag's name as the key (\`{"id": 1, "peer-port": 17001}\`).`,
      'A flag on the command line overrides the file; the file overrides the defaults.',
      '',
    );
  }
  if (doc.positionals.length > 0) {
    lines.push('| Argument | Type | Default | Description |', '|---|---|---|---|');
    for (const option of doc.positionals) {
      lines.push(`| \`${option.name}\` | ${option.type} | ${defaultCell(option)} | ${descriptionCell(option)} |`);
    }
    lines.push('');
  }
  lines.push('| Flag | Type | Default | Description |', '|---|---|---|---|');
  for (const option of doc.options) {
    lines.push(`| ${flagCell(option)} | ${option.type} | ${defaultCell(option)} | ${descriptionCell(option)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** The whole of docs/configuration.md. */
export function renderConfigurationDoc(): string {
  const server = describeCommand(serverCommand as CommandModule<unknown, unknown>);
  // `raftis cluster up` passes its flags of the same name (--host, --fsync, --follower-mode) on
  // to every node it starts (clusterNodeArgs), so a flag it declares without a description of its
  // own means what the server's does.
  const serverDescriptions = new Map(server.options.map((option) => [option.name, `passed to every node: ${option.description}`]));
  const docs = DOCUMENTED_COMMANDS.map((command) => (command === serverCommand ? server
    : describeCommand(command as CommandModule<unknown, unknown>, command === clusterCommand ? serverDescriptions : new Map())));
  const header = [
    '# Configuration',
    '',
    '<!-- Generated by scripts/gen-config-docs.ts from the yargs definitions in src/cli/commands/.',
    '     Do not edit: run `npm run docs:config`. test/unit/config-docs.test.ts fails when this',
    '     file differs from what the generator writes. -->',
    '',
    'Every flag of every `raftis` command, with its type and default, read from the definitions',
    'the command line itself uses. A node is configured entirely by the flags of `raftis server`,',
    'or by the same settings in a JSON file (`--config`); `config/` has one file per node of a',
    '3-node cluster, and [operations.md](operations.md) explains how to choose them for a',
    'deployment. No environment variable changes them. In a running node, `CONFIG SET` can change',
    '`requirepass`, `maxclients`, `proto-max-bulk-len` and `client-query-buffer-limit`, until the',
    'process restarts: raftis never writes its flags or config file back.',
    '',
    'A default written as an expression (`port + 10000`) is computed when the node starts.',
    'Numbers are plain integers: milliseconds for `-ms` flags, bytes for sizes.',
    '',
    ...docs.map((doc) => `- [\`raftis ${doc.usage}\`](#${anchor(doc.usage)}): ${doc.summary}`),
    '',
  ];
  return `${[...header, ...docs.map(renderCommand)].join('\n').trimEnd()}\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const expected = renderConfigurationDoc();
  const relative = path.relative(process.cwd(), CONFIGURATION_DOC_PATH);
  if (argv.includes('--check')) {
    const current = await readFile(CONFIGURATION_DOC_PATH, 'utf8').catch(() => '');
    if (current === expected) return 0;
    process.stderr.write(`${relative} is out of date: run npm run docs:config\n`);
    return 1;
  }
  await writeFile(CONFIGURATION_DOC_PATH, expected);
  process.stdout.write(`wrote ${relative}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
