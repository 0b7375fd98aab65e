// Proves that the curl examples in docs/http-api.md do what the page says: every `sh` block is
// read from the page, each `curl` line runs with the real curl (in a shell, $B set to a
// follower's admin port on a real 3-node cluster), and its output is compared with the `# ...`
// lines written right under it. Lines of `...` in the page stand for output that varies and are
// not compared; for `curl -i` the page shows the status line and the body, which must appear in
// that order among the lines curl prints. Skipped with a message if curl is not installed.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers/cluster.js';

const PAGE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../docs/http-api.md');
const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;
if (!HAVE_CURL) console.warn('http-api-docs.test.ts skipped: curl is not installed');

interface Example {
  readonly command: string;
  /** The `# ` lines right under the command, without the `# `. */
  readonly expected: readonly string[];
}

/** The curl commands of the page's sh blocks, in page order, with the output written under each. */
function curlExamples(markdown: string): Example[] {
  const examples: { command: string; expected: string[] }[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    let current: { command: string; expected: string[] } | undefined;
    for (const line of (block[1] as string).split('\n')) {
      if (line.startsWith('curl ')) {
        current = { command: line, expected: [] };
        examples.push(current);
      } else if (current && line.startsWith('# ')) {
        current.expected.push(line.slice(2));
      } else {
        // A blank line, an assignment or a comment after one: prose, not output.
        current = undefined;
      }
    }
  }
  return examples;
}

const shared = useCluster({ nodes: 3 });

describe.skipIf(!HAVE_CURL)('docs/http-api.md', () => {
  const examples = curlExamples(fs.readFileSync(PAGE, 'utf8'));

  it('has curl examples with their output written under them', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
    expect(examples.filter((example) => example.expected.length > 0).length).toBeGreaterThanOrEqual(8);
  });

  it('every curl example, run against a follower, prints what the page shows', async () => {
    const { cluster, leader } = shared;
    const follower = cluster.node([1, 2, 3].find((id) => id !== leader) as number);
    const base = `http://${follower.host}:${follower.httpPort}`;
    for (const { command, expected } of examples) {
      // Each example fails at once if curl cannot connect (-S shows why) or the request takes long.
      const output = execFileSync('sh', ['-c', command.replace(/^curl /, 'curl -S --max-time 20 ')], {
        env: { ...process.env, B: base }, encoding: 'utf8',
      });
      const lines = output.replace(/\r/g, '').split('\n').filter((line) => line !== '');
      if (expected.length === 0 || expected.some((line) => line.includes('...'))) continue;
      if (/ -i /.test(command)) {
        let at = 0;
        for (const line of expected) {
          const found = lines.indexOf(line, at);
          expect(found, `${command}\nexpected the line ${line} in:\n${output}`).toBeGreaterThanOrEqual(0);
          at = found + 1;
        }
      } else {
        expect(lines, command).toEqual(expected);
      }
    }
  });
});
