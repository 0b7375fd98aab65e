// The consensus core must stay pure (no I/O, clock, timers, randomness, promises). The lint
// rule in eslint.config.js enforces it; this test proves the rule fires on each kind of
// impurity in a file under src/raft, and stays quiet on the same code elsewhere.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: new URL('../../..', import.meta.url).pathname });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('src/raft purity lint rule', () => {
  const impure: Record<string, string> = {
    'a node: import': "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
    'Date.now': 'export const now = (): number => Date.now();\n',
    'Math.random': 'export const r = (): number => Math.random();\n',
    'setTimeout': 'export const t = (): unknown => setTimeout(() => 1, 1);\n',
    'an async function': 'export async function f(): Promise<number> { return 1; }\n',
    'process': 'export const p = (): unknown => process.env;\n',
  };
  for (const [name, code] of Object.entries(impure)) {
    it(`rejects ${name} in src/raft`, async () => {
      expect((await ruleIds(code, 'src/raft/probe.ts')).length).toBeGreaterThan(0);
    });
  }

  it('accepts pure code in src/raft', async () => {
    expect(await ruleIds('export const add = (a: number, b: number): number => a + b;\n', 'src/raft/probe.ts')).toEqual([]);
  });
});
