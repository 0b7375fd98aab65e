// Test helper: scripted cases in test/unit/state/testdata, in the spirit of etcd's testdata files.
// Each command line "> CMD arg ..." is followed by the exact RESP2 reply Redis sends, as a JSON
// string. Arguments split on spaces; "double quotes" group, with \r \n \t \\ \" and \xHH escapes.
// "@sleep N" waits N ms (for expiry). A line starting with "#" is a comment. ">~ CMD" marks a
// reply whose array order is Redis's hash-table order (KEYS): it is compared sorted. Run
// `RECORD=1 npx vitest run test/unit/state-scripts.test.ts` to rewrite the replies from a real
// redis-server (review the diff before committing).
import { readFileSync, writeFileSync } from 'node:fs';

export type ScriptLine =
  | {
    readonly kind: 'command'; readonly argv: Buffer[]; readonly text: string; expected: string | undefined;
    readonly line: number; readonly unordered: boolean;
  }
  | { readonly kind: 'sleep'; readonly ms: number }
  | { readonly kind: 'comment'; readonly text: string };

export function splitArgs(text: string): Buffer[] {
  const args: Buffer[] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ') i++;
    if (i >= text.length) break;
    const bytes: number[] = [];
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') {
          const next = text[i + 1];
          if (next === 'x') {
            bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
            i += 4;
            continue;
          }
          const map: Record<string, number> = { r: 13, n: 10, t: 9, '\\': 92, '"': 34 };
          bytes.push(map[next ?? ''] ?? next!.charCodeAt(0));
          i += 2;
          continue;
        }
        bytes.push(...Buffer.from(text[i]!));
        i++;
      }
      i++;
    } else {
      while (i < text.length && text[i] !== ' ') {
        bytes.push(...Buffer.from(text[i]!));
        i++;
      }
    }
    args.push(Buffer.from(bytes));
  }
  return args;
}

export function parseScript(path: string): ScriptLine[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: ScriptLine[] = [];
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.startsWith('> ') || line.startsWith('>~ ')) {
      const unordered = line.startsWith('>~ ');
      const text = line.slice(unordered ? 3 : 2);
      const next = lines[n + 1];
      const expected = next !== undefined && next.startsWith('"') ? (JSON.parse(next) as string) : undefined;
      out.push({ kind: 'command', argv: splitArgs(text), text, expected, line: n + 1, unordered });
      if (expected !== undefined) n++;
    } else if (line.startsWith('@sleep ')) {
      out.push({ kind: 'sleep', ms: Number(line.slice(7)) });
    } else if (line.trim() !== '') {
      out.push({ kind: 'comment', text: line });
    }
  }
  return out;
}

export function writeScript(path: string, script: readonly ScriptLine[]): void {
  const lines: string[] = [];
  for (const item of script) {
    if (item.kind === 'comment') lines.push(item.text);
    else if (item.kind === 'sleep') lines.push(`@sleep ${item.ms}`);
    else lines.push(`${item.unordered ? '>~' : '>'} ${item.text}`, JSON.stringify(item.expected ?? ''));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** Sorts the elements of a RESP2 array of bulk strings (other replies are returned as they are). */
export function sortArrayReply(reply: string): string {
  const match = /^\*(\d+)\r\n/.exec(reply);
  if (match === null) return reply;
  const bytes = Buffer.from(reply, 'latin1');
  let offset = match[0].length;
  const items: Buffer[] = [];
  for (let i = 0; i < Number(match[1]); i++) {
    const end = bytes.indexOf('\r\n', offset);
    const size = Number(bytes.toString('latin1', offset + 1, end));
    items.push(bytes.subarray(end + 2, end + 2 + size));
    offset = end + 2 + size + 2;
  }
  items.sort(Buffer.compare);
  return `*${items.length}\r\n${items.map((item) => `$${item.length}\r\n${item.toString('latin1')}\r\n`).join('')}`;
}
