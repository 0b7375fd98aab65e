// The differential harness tolerates only the differences listed in ALLOWED_DIFFERENCES
// (helpers/differential.ts); docs/compatibility.md must document each of them, by its id, so
// that a difference cannot be allowed in the tests without being told to users.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
