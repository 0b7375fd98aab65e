// Builds the server the nodes of a run execute: src/cli/main.ts and every module it imports by a
// relative path, transpiled (no type check) into <out>/build with a link to node_modules. Two
// reasons: every node of a run, restarts included, runs the same code even while src/ is being
// edited (nodes started through tsx would compile whatever src/ holds at each restart), and a
// restart costs a Node start-up rather than a compilation, which matters when faults restart
// processes every few seconds. The same transpilation as test/integration/maelstrom-cluster.test.ts.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export interface Build {
  /** The JavaScript entry to run with node. */
  readonly entry: string;
  /** The commit, the src/ tree in it, and a hash of what was uncommitted under src/ when built. */
  readonly source: { readonly head: string; readonly src: string; readonly dirty: string };
  readonly files: number;
}

export function buildServer(outDir: string): Build {
  const source = sourceRevision();
  fs.mkdirSync(outDir, { recursive: true });
  const modules = path.join(outDir, 'node_modules');
  if (!fs.existsSync(modules)) fs.symlinkSync(path.join(ROOT, 'node_modules'), modules, 'dir');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ name: 'raftis', version: pkg.version, type: 'module' })}\n`);
  const entry = path.join(ROOT, 'src/cli/main.ts');
  const pending = [entry];
  const seen = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(file), `${match[1] as string}.ts`));
    }
    const { outputText } = ts.transpileModule(text, {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    });
    const out = path.join(outDir, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, outputText);
  }
  return { entry: path.join(outDir, 'src/cli/main.js'), source, files: seen.size };
}

function sourceRevision(): Build['source'] {
  const git = (args: string[]): string => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const diff = git(['diff', 'HEAD', '--', 'src']);
  return {
    head: git(['rev-parse', '--short', 'HEAD']),
    src: git(['rev-parse', '--short', 'HEAD:src']),
    dirty: diff === '' ? '' : createHash('sha1').update(diff).digest('hex').slice(0, 10),
  };
}
