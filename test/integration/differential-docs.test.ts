// docs/compatibility.md must tell users everything the tests allow and everything raftis has:
// - the differential harness tolerates only the differences listed in ALLOWED_DIFFERENCES
//   (helpers/differential.ts), and the page documents each of them by its id, so a difference
//   cannot be allowed in the tests without being told to users;
// - every command and subcommand of the command table (src/commands/table.ts, which drives
//   dispatch and COMMAND) has a row in one of the page's command tables, with its status, so a
//   command cannot be added without being documented.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/commands/table.js';
import { ALLOWED_DIFFERENCES } from './helpers/differential.js';

const COMPATIBILITY = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../docs/compatibility.md');

describe('allowed differences are documented', () => {
  const text = fs.readFileSync(COMPATIBILITY, 'utf8');
  for (const difference of ALLOWED_DIFFERENCES) {
    it(`docs/compatibility.md documents \`${difference.id}\``, () => {
      expect(text, `add "${difference.id}" with its reason: ${difference.reason}`).toContain(`\`${difference.id}\``);
    });
  }
});

describe('every command is documented', () => {
  it('docs/compatibility.md has a row with a status for every command and subcommand of the table', () => {
    const text = fs.readFileSync(COMPATIBILITY, 'utf8');
    // A row's first cell names commands ("INCR, DECR"), or a container and its subcommands
    // ("CLIENT ID, SETNAME"); the status is a later cell that is not empty.
    const rows = text.split('\n')
      .filter((line) => line.startsWith('| ') && !line.startsWith('| Command |'))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))
      .filter((cells) => cells.length >= 3 && cells.slice(1).some((cell) => cell !== '' && !/^-+$/.test(cell)))
      .map((cells) => cells[0]!.toLowerCase().split(/,\s*/));
    const documented = (name: string, container?: string): boolean => rows.some((words) => (container === undefined
      ? words.includes(name) || words[0]!.split(' ')[0] === name
      : words[0]!.split(' ')[0] === container && (words.includes(name) || words[0] === `${container} ${name}`)));
    const missing: string[] = [];
    for (const spec of COMMANDS) {
      if (!documented(spec.name)) missing.push(spec.name);
      for (const sub of spec.subcommands ?? []) {
        if (!documented(sub.name.split('|')[1]!, spec.name)) missing.push(sub.name);
      }
    }
    expect(missing).toEqual([]);
  });
});
