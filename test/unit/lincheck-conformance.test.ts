// The checker against the verdicts an independent checker (porcupine) reaches on the shared
// conformance histories: 102 Jepsen register logs recorded against etcd, most of them with
// timed-out writes and cas operations whose outcome is unknown, and six multi-key append/get
// histories of 1 to 50 clients. Every file listed in verdicts.json must get the same verdict,
// each within a fixed time budget: a verdict of `unknown` (the budget ran out) fails the test.
// The data stays in the shared folder beside the repository; without it the suite is skipped.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHistory, type HistoryFormat, type ModelName } from '../../src/check/index.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const conformanceDir = path.resolve(repoRoot, '../shared/conformance/linearizability');
const verdictsPath = path.join(conformanceDir, 'verdicts.json');
const present = existsSync(verdictsPath);
/** Per file; the slowest takes well under a second on a laptop core. */
const fileBudgetMs = 10_000;

if (!present) console.warn(`lincheck conformance: skipped, ${verdictsPath} is absent`);

function formatOf(file: string): { format: HistoryFormat; model: ModelName } {
  if (file.startsWith('jepsen-register/')) return { format: 'jepsen-register', model: 'register' };
  if (file.startsWith('kv/')) return { format: 'jepsen-kv', model: 'kv' };
  throw new Error(`no format known for ${file}`);
}

describe.skipIf(!present)('linearizability conformance (porcupine verdicts)', () => {
  const verdicts = present ? (JSON.parse(readFileSync(verdictsPath, 'utf8')) as Record<string, boolean>) : {};
  const files = Object.entries(verdicts);

  it('lists both register and kv histories, with both verdicts', () => {
    expect(files.filter(([file]) => file.startsWith('jepsen-register/')).length).toBeGreaterThan(50);
    expect(files.filter(([file]) => file.startsWith('kv/')).length).toBeGreaterThan(3);
    expect(files.some(([, linearizable]) => linearizable)).toBe(true);
    expect(files.some(([, linearizable]) => !linearizable)).toBe(true);
  });

  for (const [file, linearizable] of files) {
    it(`${file} is ${linearizable ? '' : 'not '}linearizable`, { timeout: fileBudgetMs + 5_000 }, () => {
      const { format, model } = formatOf(file);
      const text = readFileSync(path.join(conformanceDir, file), 'utf8');
      const result = checkHistory(text, format, model, { timeoutMs: fileBudgetMs });
      expect(result.result).toBe(linearizable ? 'linearizable' : 'not-linearizable');
    });
  }
});
