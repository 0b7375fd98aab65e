// Replays the scripted cases of test/unit/state/testdata through the state machine (driven as the
// server drives it: writes through log entries, reads through read()) and checks every reply byte
// for byte against the RESP2 bytes recorded from a real redis-server. When redis-server is
// installed, the same scripts are also replayed against it first, so a recorded reply can never
// drift from what Redis actually sends.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeReply } from './commands/encode-reply.js';
import { RawClient } from './commands/raw-client.js';
import { startRedis, type RedisProcess } from './commands/redis-server.js';
import { EngineClient } from './state/harness.js';
import { parseScript, sortArrayReply, writeScript } from './state/script.js';

const dir = path.join(import.meta.dirname, 'state', 'testdata');
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
const record = process.env.RECORD === '1';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let redis: RedisProcess | undefined;
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { await redis?.stop(); });

describe('scripted cases', () => {
  for (const file of files) {
    it(`${file}: redis-server replies as recorded`, async (context) => {
      if (redis === undefined) {
        context.skip('redis-server is not installed: apt-get install -y redis-server');
        return;
      }
      const script = parseScript(path.join(dir, file));
      const client = await RawClient.connect(redis.port);
      try {
        await client.call('FLUSHALL');
        for (const item of script) {
          if (item.kind === 'sleep') await sleep(item.ms);
          if (item.kind !== 'command') continue;
          let reply = (await client.call(...item.argv)).toString('latin1');
          if (item.unordered) reply = sortArrayReply(reply);
          if (record) item.expected = reply;
          else expect(reply, `${file}:${item.line} ${item.text}`).toBe(item.expected);
        }
        await client.call('SELECT', '0');
      } finally {
        client.close();
      }
      if (record) writeScript(path.join(dir, file), script);
    });

    it(`${file}: the state machine replies as recorded`, async () => {
      const script = parseScript(path.join(dir, file));
      const engine = new EngineClient();
      const mismatches: string[] = [];
      for (const item of script) {
        if (item.kind === 'sleep') {
          await sleep(item.ms);
          continue;
        }
        if (item.kind !== 'command') continue;
        expect(item.expected, `${file}:${item.line} has no recorded reply`).toBeDefined();
        let reply = encodeReply(engine.call(...item.argv)).toString('latin1');
        if (item.unordered) reply = sortArrayReply(reply);
        if (reply !== item.expected) {
          mismatches.push(`${file}:${item.line} ${item.text}\n  want ${JSON.stringify(item.expected)}\n  got  ${JSON.stringify(reply)}`);
        }
      }
      expect(mismatches.join('\n')).toBe('');
    });
  }
});
