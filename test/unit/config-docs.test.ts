// Proves that docs/configuration.md cannot drift from the command line: the committed page must
// equal what scripts/gen-config-docs.ts renders from the real yargs builders right now, so adding,
// renaming or re-defaulting a flag without `npm run docs:config` fails here. It also checks the
// generator itself: every command src/cli/main.ts registers is on the page, and every option the
// server's builder declares gets a row with its real default (a generator that silently dropped
// options would otherwise agree with its own stale output). Finally the example files in config/
// are run through the server's real option parser, strict as `raftis` is, so a key that is not a
// flag, or a file that no longer parses, fails too.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import yargs, { type CommandModule } from 'yargs';
import { serverOptions } from '../../src/cli/commands/server.js';
import {
  CONFIGURATION_DOC_PATH, DOCUMENTED_COMMANDS, describeCommand, renderConfigurationDoc,
} from '../../scripts/gen-config-docs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('docs/configuration.md', () => {
  it('is exactly what scripts/gen-config-docs.ts generates (run `npm run docs:config` after changing a flag)', async () => {
    const committed = await readFile(CONFIGURATION_DOC_PATH, 'utf8');
    expect(committed).toBe(renderConfigurationDoc());
  });

  it('covers every command src/cli/main.ts registers', async () => {
    const main = await readFile(path.join(root, 'src/cli/main.ts'), 'utf8');
    const registered = [...main.matchAll(/\.command\((\w+)\)/g)].map((match) => match[1] as string);
    expect(registered.length).toBeGreaterThan(0);
    const documented = new Set(DOCUMENTED_COMMANDS.map((command) => command.command));
    for (const name of registered) {
      const from = new RegExp(`import \\{[^}]*\\b${name}\\b[^}]*\\} from '(\\./commands/[\\w-]+)\\.js'`).exec(main);
      expect(from, `${name} is imported from ./commands/`).not.toBeNull();
      const module = await import(pathToFileURL(path.join(root, 'src/cli', `${(from as RegExpExecArray)[1]}.ts`)).href) as Record<string, CommandModule>;
      expect(documented, `raftis ${String(module[name]?.command)} is documented`).toContain(module[name]?.command);
    }
    expect(DOCUMENTED_COMMANDS).toHaveLength(registered.length);
  });

  it('has a row for every server option, with its real default', () => {
    const page = renderConfigurationDoc();
    const declared = (serverOptions(yargs([])) as unknown as { getOptions(): { key: Record<string, boolean>; default: Record<string, unknown> } }).getOptions();
    const names = Object.keys(declared.key).filter((name) => name !== 'help' && name !== 'version');
    expect(names).toContain('repair-wal');
    for (const name of names) {
      const row = page.split('\n').find((line) => line.startsWith(`| \`--${name}\``));
      expect(row, `--${name} has a row`).toBeDefined();
      const value = declared.default[name];
      if (value !== undefined) expect(row).toContain(typeof value === 'string' && value !== '' ? `\`${value}\`` : `\`${JSON.stringify(value)}\``);
    }
    const server = describeCommand(DOCUMENTED_COMMANDS[0] as CommandModule<unknown, unknown>);
    expect(server.usage).toBe('server');
    expect(server.configOption).toBe('config');
    expect(server.options.find((option) => option.name === 'id')?.required).toBe(true);
    expect(server.options.find((option) => option.name === 'peer-port')?.defaultText).toBe('port + 10000');
  });
});

describe('config/ examples', () => {
  it('parse with the server\'s real, strict options into a 3-node cluster with distinct ids and addresses', async () => {
    const files = (await readdir(path.join(root, 'config'))).filter((name) => name.endsWith('.json')).sort();
    expect(files).toEqual(['node1.json', 'node2.json', 'node3.json']);
    const seen = new Set<string>();
    for (const [position, file] of files.entries()) {
      const parsed = serverOptions(yargs(['--config', path.join(root, 'config', file)])).strict().exitProcess(false).fail((message) => {
        throw new Error(`${file}: ${message}`);
      }).parseSync();
      expect(parsed.id).toBe(position + 1);
      const members = parsed.peers.split(',');
      expect(members).toHaveLength(3);
      expect(members).toContain(`${parsed.id}@${parsed.host}:${parsed.port}`);
      expect(parsed.fsync).toBe('always');
      seen.add(`${parsed.host}:${parsed.port}`);
    }
    expect(seen.size).toBe(3);
  });
});
