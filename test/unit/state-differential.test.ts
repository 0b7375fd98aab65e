// Differential test: seeded random command sequences (every data command, edge values, errors,
// MULTI/EXEC with WATCH, SELECT) go to a real redis-server and to the state machine driven as the
// server drives it; every reply must match. Replies are compared as RESP2 bytes, except where
// Redis's reply depends on its hash order or its clock: KEYS and SCAN are compared sorted,
// RANDOMKEY by kind, and TTLs within the time the two calls can be apart. A failure prints the
// seed and the command history so it can be replayed (SEED=n to run one seed).
// Skipped, with a message, when redis-server is not installed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeReply } from './commands/encode-reply.js';
import { RawClient, respLength } from './commands/raw-client.js';
import { startRedis, type RedisProcess } from './commands/redis-server.js';
import { EngineClient } from './state/harness.js';
import { KEY_POOL, randomSequence, seededRng } from './state/random-commands.js';

type Resp =
  | { readonly t: 'simple' | 'error' | 'bulk'; readonly v: string }
  | { readonly t: 'integer'; readonly v: bigint }
  | { readonly t: 'null' }
  | { readonly t: 'array'; readonly v: Resp[] };

function parseResp(buf: Buffer, offset = 0): [Resp, number] {
  const end = buf.indexOf('\r\n', offset);
  const type = String.fromCharCode(buf[offset]!);
  const header = buf.toString('latin1', offset + 1, end);
  switch (type) {
    case '+': return [{ t: 'simple', v: header }, end + 2];
    case '-': return [{ t: 'error', v: header }, end + 2];
    case ':': return [{ t: 'integer', v: BigInt(header) }, end + 2];
    case '$': {
      const size = Number(header);
      if (size < 0) return [{ t: 'null' }, end + 2];
      return [{ t: 'bulk', v: buf.toString('latin1', end + 2, end + 2 + size) }, end + 2 + size + 2];
    }
    case '*': {
      const count = Number(header);
      if (count < 0) return [{ t: 'null' }, end + 2];
      const items: Resp[] = [];
      let at = end + 2;
      for (let i = 0; i < count; i++) {
        const [item, next] = parseResp(buf, at);
        items.push(item);
        at = next;
      }
      return [{ t: 'array', v: items }, at];
    }
    default:
      throw new Error(`unexpected RESP2 type ${type}`);
  }
}

function show(value: Resp): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

const sortBulks = (items: Resp[]): Resp[] => [...items].sort((x, y) => show(x).localeCompare(show(y)));

/** Rewrites the parts of a reply that legitimately differ between two servers. */
function normalize(name: string, reply: Resp): Resp {
  if (reply.t === 'array' && name === 'keys') return { t: 'array', v: sortBulks(reply.v) };
  if (reply.t === 'array' && name === 'scan') {
    const keys = reply.v[1];
    return { t: 'array', v: [reply.v[0]!, keys?.t === 'array' ? { t: 'array', v: sortBulks(keys.v) } : keys!] };
  }
  if (name === 'randomkey' && reply.t === 'bulk') return { t: 'bulk', v: '<some key>' };
  return reply;
}

/** TTL-like integers may differ by the time between the two calls (and a rounding step). */
const TOLERANCE: Record<string, bigint> = { ttl: 1n, expiretime: 1n, pttl: 250n, pexpiretime: 250n };

function sameReply(name: string, ours: Resp, theirs: Resp): boolean {
  const tolerance = TOLERANCE[name];
  if (tolerance !== undefined && ours.t === 'integer' && theirs.t === 'integer' && ours.v >= 0n && theirs.v >= 0n) {
    const diff = ours.v - theirs.v;
    return diff <= tolerance && diff >= -tolerance;
  }
  return show(ours) === show(theirs);
}

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

// SEED=n runs one seed; SEED_COUNT=n runs seeds 1..n (40 by default).
const seeds = process.env.SEED !== undefined
  ? [Number(process.env.SEED)]
  : Array.from({ length: Number(process.env.SEED_COUNT ?? 40) }, (_, i) => i + 1);

describe('state machine vs redis-server, seeded random sequences', () => {
  for (const seed of seeds) {
    it(`seed=${seed}`, async (context) => {
      if (client === undefined) {
        context.skip('redis-server is not installed: apt-get install -y redis-server');
        return;
      }
      await client.send([['SELECT', '0'], ['FLUSHALL']]);
      const engine = new EngineClient();
      const commands = randomSequence(seededRng(seed), 400);
      const history: string[] = [];
      let inMulti = false;
      let queued: string[] = [];
      for (const argv of commands) {
        const name = argv[0]!.toLowerCase();
        if (name === 'dbsize' && !inMulti) {
          // Redis counts keys whose time has passed until something reclaims them; touching
          // them reclaims them (raftis's DBSIZE never counts them: docs/compatibility.md).
          await client.call('EXISTS', ...KEY_POOL.map((k) => Buffer.from(k, 'latin1')));
        }
        const theirsBytes = await client.call(...argv.map((a) => Buffer.from(a, 'latin1')));
        const oursBytes = encodeReply(engine.call(...argv.map((a) => Buffer.from(a, 'latin1'))));
        expect(respLength(theirsBytes, 0)).toBe(theirsBytes.length);
        const theirs = normalize(name, parseResp(theirsBytes)[0]);
        const ours = normalize(name, parseResp(oursBytes)[0]);
        history.push(`${argv.map((a) => JSON.stringify(a)).join(' ')} -> ${show(theirs)}`);
        // Inside EXEC, compare each command's reply with its own rule.
        let same = sameReply(name, ours, theirs);
        if (!same && name === 'exec' && ours.t === 'array' && theirs.t === 'array' && ours.v.length === theirs.v.length) {
          same = ours.v.every((reply, i) => sameReply(queued[i] ?? '', reply, theirs.v[i]!));
        }
        if (!same) {
          throw new Error(`seed=${seed}: replies differ\n  command: ${argv.join(' ')}\n  redis:  ${show(theirs)}\n  raftis: ${show(ours)}\n  history (last 30):\n    ${history.slice(-30).join('\n    ')}`);
        }
        if (inMulti && name !== 'exec' && name !== 'discard' && name !== 'multi' && name !== 'watch') queued.push(name);
        if (name === 'multi' && !inMulti) {
          inMulti = true;
          queued = [];
        }
        if (name === 'exec' || name === 'discard') inMulti = false;
      }
      expect(inMulti).toBe(false);
    });
  }
});
