// Differential tests of the two pieces of the command layer that are easiest to get subtly wrong,
// against a real redis-server: the glob matcher (random patterns over an alphabet full of
// metacharacters, through KEYS) and INCRBYFLOAT's long double arithmetic and formatting (random
// decimal inputs of every magnitude). Skipped, with a message, when redis-server is not installed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globMatch } from '../../src/state/glob.js';
import { encodeReply } from './commands/encode-reply.js';
import { RawClient } from './commands/raw-client.js';
import { startRedis, type RedisProcess } from './commands/redis-server.js';
import { EngineClient } from './state/harness.js';
import { seededRng, type Rng } from './state/random-commands.js';
import { sortArrayReply } from './state/script.js';

let redis: RedisProcess | undefined;
let client: RawClient | undefined;
beforeAll(async () => {
  redis = await startRedis();
  if (redis) client = await RawClient.connect(redis.port);
});
afterAll(async () => {
  client?.close();
  await redis?.stop();
});

const pick = (rng: Rng, text: string): string => text[Math.floor(rng() * text.length)]!;

function randomString(rng: Rng, alphabet: string, maxLength: number): string {
  const length = Math.floor(rng() * (maxLength + 1));
  let out = '';
  for (let i = 0; i < length; i++) out += pick(rng, alphabet);
  return out;
}

describe('glob matching', () => {
  it('matches the documented Redis examples', () => {
    const match = (pattern: string, subject: string): boolean => globMatch(Buffer.from(pattern), Buffer.from(subject));
    expect(match('h?llo', 'hello')).toBe(true);
    expect(match('h*llo', 'heeeello')).toBe(true);
    expect(match('h[ae]llo', 'hillo')).toBe(false);
    expect(match('h[^e]llo', 'hallo')).toBe(true);
    expect(match('h[a-b]llo', 'hbllo')).toBe(true);
    expect(match('h\\*llo', 'h*llo')).toBe(true);
    expect(match('h\\*llo', 'hello')).toBe(false);
    expect(globMatch(Buffer.from('A*'), Buffer.from('abc'), true)).toBe(true);
    // Pathological patterns end quickly (CVE-2022-36021).
    const started = Date.now();
    expect(match('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(60))).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('agrees with KEYS on redis-server for random patterns', async (context) => {
    if (client === undefined) {
      context.skip('redis-server is not installed: apt-get install -y redis-server');
      return;
    }
    const rng = seededRng(7);
    const keys = new Set<string>(['', 'a', 'b', '*', '?', '[', ']', '\\', '^', '-']);
    while (keys.size < 120) keys.add(randomString(rng, 'ab*?[]^-\\c', 5));
    const engine = new EngineClient();
    const mset = ['MSET', ...[...keys].flatMap((key) => [key, 'v'])];
    await client.send([['SELECT', '0'], ['FLUSHALL'], mset]);
    engine.call(...mset);
    for (let i = 0; i < 600; i++) {
      const pattern = randomString(rng, 'ab*?[]^-\\c', 7);
      const theirs = sortArrayReply((await client.call('KEYS', pattern)).toString('latin1'));
      const ours = sortArrayReply(encodeReply(engine.call('KEYS', pattern)).toString('latin1'));
      expect(ours, `KEYS ${JSON.stringify(pattern)}`).toBe(theirs);
    }
  });
});

describe('INCRBYFLOAT', () => {
  function randomDecimal(rng: Rng): string {
    const sign = rng() < 0.3 ? '-' : '';
    const intPart = randomString(rng, '0123456789', 1 + Math.floor(rng() * 12));
    const fracPart = rng() < 0.7 ? `.${randomString(rng, '0123456789', 1 + Math.floor(rng() * 20))}` : '';
    const exponent = rng() < 0.3 ? `e${Math.floor(rng() * 80) - 40}` : '';
    return `${sign}${intPart || '0'}${fracPart}${exponent}`;
  }

  it('computes and prints as Redis does for random inputs', async (context) => {
    if (client === undefined) {
      context.skip('redis-server is not installed: apt-get install -y redis-server');
      return;
    }
    const rng = seededRng(99);
    const engine = new EngineClient();
    await client.send([['SELECT', '0'], ['FLUSHALL']]);
    for (let i = 0; i < 1500; i++) {
      const key = `f${i % 13}`;
      const increment = randomDecimal(rng);
      if (rng() < 0.1) {
        const start = randomDecimal(rng);
        await client.call('SET', key, start);
        engine.call('SET', key, start);
      }
      const theirs = (await client.call('INCRBYFLOAT', key, increment)).toString('latin1');
      const ours = encodeReply(engine.call('INCRBYFLOAT', key, increment)).toString('latin1');
      expect(ours, `INCRBYFLOAT ${key} ${increment}`).toBe(theirs);
    }
  });
});
