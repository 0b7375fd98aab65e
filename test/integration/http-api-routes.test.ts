// Proves the HTTP JSON API's translation onto the Executor in-process, where cases are cheap: the
// routes of src/server/http-api.ts run over a LocalExecutor (the real state machine, no Raft), so
// each request's status and JSON body can be checked from a table, including every 400; a fake
// executor that answers with a given error reply shows how errors map to 503 and 500; listing
// checks prefixes full of glob characters and paging with limit and cursor. The same routes over
// real HTTP against a real cluster are in http-api.test.ts.

import { describe, expect, it } from 'vitest';
import type { AdminContext, AdminRequest, AdminResponse, AdminRoute } from '../../src/server/admin-http.js';
import type { Completion, Executor } from '../../src/server/executor.js';
import { httpApiRoutes, LIST_PAIRS_MAX, prefixPattern } from '../../src/server/http-api.js';
import { LocalExecutor, MonotonicClock } from '../../src/server/standalone.js';
import { StateMachine } from '../../src/state/index.js';
import { globMatch } from '../../src/state/glob.js';

interface Api {
  request(method: string, target: string, body?: unknown): Promise<AdminResponse>;
  readonly executor: Executor;
}

function api(executor: Executor = localExecutor()): Api {
  // No password set: the checks of http-api-auth.test.ts do not apply.
  const routes = httpApiRoutes(executor, { requirepass: () => null, authenticate: () => true });
  return {
    executor,
    async request(method, target, body) {
      const url = new URL(target, 'http://admin');
      const route = routes.get(`${method} ${url.pathname}`) as AdminRoute;
      expect(route, `${method} ${url.pathname}`).toBeDefined();
      const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const request: AdminRequest = { method, url, headers: {}, body: raw };
      return route(request, {} as AdminContext);
    },
  };
}

function localExecutor(): LocalExecutor {
  return new LocalExecutor(new StateMachine(), new MonotonicClock(), () => ({ kind: 'error', value: 'ERR not here' }));
}

/** An executor whose every call answers with one reply (and records what it was asked). */
function answering(reply: string): Executor & { calls: string[][] } {
  const calls: string[][] = [];
  const fail = (argv: readonly Buffer[], completion: Completion): void => {
    calls.push(argv.map((arg) => arg.toString()));
    completion.complete({ kind: 'error', value: reply });
  };
  return {
    calls,
    write: (_db, argv, completion) => fail(argv, completion),
    read: (_db, argv, _consistency, completion) => fail(argv, completion),
    transaction: (_db, commands, _watches, completion) => fail(commands.flat(), completion),
    server: (_client, _spec, argv, completion) => fail(argv, completion),
    watch: () => { throw new Error('not used'); },
  };
}

describe('requests and their answers', () => {
  // Run in order against one keyspace.
  const cases: [method: string, target: string, body: unknown, status: number, expected: unknown][] = [
    ['POST', '/api/set', { key: 'a', value: 'one' }, 200, { success: true }],
    ['GET', '/api/get?key=a', undefined, 200, { value: 'one', found: true }],
    ['GET', '/api/get?key=missing', undefined, 200, { found: false }],
    ['POST', '/api/set', { key: 'ключ', value: 'значение ✓' }, 200, { success: true }],
    ['GET', `/api/get?key=${encodeURIComponent('ключ')}`, undefined, 200, { value: 'значение ✓', found: true }],
    ['POST', '/api/set', { key: '', value: '' }, 200, { success: true }],
    ['GET', '/api/get?key=', undefined, 200, { value: '', found: true }],
    ['POST', '/api/set', { key: 'a', value: 'two', ttl_ms: null }, 200, { success: true }],
    ['GET', '/api/get?key=a', undefined, 200, { value: 'two', found: true }],
    ['DELETE', '/api/delete?key=a', undefined, 200, { success: true }],
    ['DELETE', '/api/delete?key=a', undefined, 200, { success: true }],
    ['GET', '/api/get?key=a', undefined, 200, { found: false }],
    ['POST', '/api/batch', { set: { b1: 'x', b2: 'y' }, delete: ['ключ'] }, 200, { success: true }],
    ['GET', '/api/list?prefix=b', undefined, 200, { pairs: [{ key: 'b1', value: 'x' }, { key: 'b2', value: 'y' }] }],
    ['GET', `/api/get?key=${encodeURIComponent('ключ')}`, undefined, 200, { found: false }],
    ['POST', '/api/batch', { delete: ['b1'] }, 200, { success: true }],
    ['POST', '/api/batch', {}, 200, { success: true }],
    ['GET', '/api/list?prefix=b', undefined, 200, { pairs: [{ key: 'b2', value: 'y' }] }],
    ['GET', '/api/list?prefix=nothing', undefined, 200, { pairs: [] }],
    // 400s: bad JSON, wrong shapes, missing or unknown fields, bad parameters.
    ['POST', '/api/set', '{"key":', 400, /not valid JSON/],
    ['POST', '/api/set', '', 400, /not valid JSON/],
    ['POST', '/api/set', [1, 2], 400, /must be a JSON object/],
    ['POST', '/api/set', { value: 'v' }, 400, /missing field "key"/],
    ['POST', '/api/set', { key: 'k' }, 400, /missing field "value"/],
    ['POST', '/api/set', { key: 1, value: 'v' }, 400, /"key" must be a string, not a number/],
    ['POST', '/api/set', { key: 'k', value: { nested: true } }, 400, /"value" must be a string, not an object/],
    ['POST', '/api/set', { key: 'k', value: 'v', ttl: 5 }, 400, /unknown field "ttl"/],
    ['POST', '/api/set', { key: 'k', value: 'v', ttl_ms: 0 }, 400, /"ttl_ms" must be a positive integer/],
    ['POST', '/api/set', { key: 'k', value: 'v', ttl_ms: 1.5 }, 400, /"ttl_ms" must be a positive integer/],
    ['POST', '/api/set', { key: 'k', value: 'v', ttl_ms: '100' }, 400, /"ttl_ms" must be a positive integer/],
    ['GET', '/api/get', undefined, 400, /missing query parameter "key"/],
    ['GET', '/api/get?key=a&key=b', undefined, 400, /"key" given 2 times/],
    ['DELETE', '/api/delete', undefined, 400, /missing query parameter "key"/],
    ['GET', '/api/list?prefix=b&limit=0', undefined, 400, /"limit" must be between 1/],
    ['GET', `/api/list?limit=${LIST_PAIRS_MAX + 1}`, undefined, 400, /"limit" must be between 1/],
    ['GET', '/api/list?limit=x', undefined, 400, /"limit" must be a positive integer/],
    ['GET', '/api/list?cursor=-1', undefined, 400, /"cursor" must be a cursor/],
    ['POST', '/api/batch', { set: ['a'] }, 400, /"set" must be an object/],
    ['POST', '/api/batch', { set: { a: 1 } }, 400, /"set" value of "a" must be a string/],
    ['POST', '/api/batch', { delete: 'a' }, 400, /"delete" must be an array/],
    ['POST', '/api/batch', { delete: [1] }, 400, /"delete" keys must be strings/],
    ['POST', '/api/batch', { set: { a: 'x' }, delete: ['a'] }, 400, /key "a" is both set and deleted/],
    ['POST', '/api/batch', { set: {}, remove: [] }, 400, /unknown field "remove"/],
  ];
  const shared = api();
  it.each(cases.map((c, k) => [k, ...c] as const))('#%i %s %s', async (_k, method, target, body, status, expected) => {
    const response = await shared.request(method, target, body);
    expect(response.status).toBe(status);
    if (expected instanceof RegExp) expect((response.body as { error: string }).error).toMatch(expected);
    else expect(response.body).toEqual(expected);
  });

  it('a rejected request changes nothing', async () => {
    const fresh = api();
    await fresh.request('POST', '/api/batch', { set: { a: 'x', b: 'y' }, delete: ['b'] });
    expect((await fresh.request('GET', '/api/list')).body).toEqual({ pairs: [] });
  });
});

describe('errors from the command path', () => {
  it.each([
    ['CLUSTERDOWN no leader elected within 500 ms', 503],
    ['TRYAGAIN this node lost leadership; retry', 503],
    ['TIMEOUT the command was not confirmed in time: it may or may not have been applied', 500],
    ['MISCONF writes are refused: the disk failed (ENOSPC)', 503],
    ["TRYAGAIN this node's disk failed (ENOSPC); reads resume once it accepts writes again", 503],
    ['ERR connection to the leader lost: the command may or may not have been applied', 500],
  ])('%s → %i with the error text', async (reply, status) => {
    const failing = api(answering(reply));
    for (const [method, target, body] of [
      ['POST', '/api/set', { key: 'k', value: 'v' }], ['GET', '/api/get?key=k', undefined], ['GET', '/api/list?prefix=k', undefined],
      ['DELETE', '/api/delete?key=k', undefined], ['POST', '/api/batch', { set: { k: 'v' } }],
    ] as const) {
      const response = await failing.request(method, target, body);
      expect(response.status, `${method} ${target}`).toBe(status);
      expect(response.body).toEqual({ error: reply });
      if (status === 503) expect(response.headers?.['retry-after']).toBe('1');
    }
  });

  it('sends the commands the issue names: SET with PX, GET, DEL, SCAN MATCH, one transaction for a batch', async () => {
    const executor = answering('ERR recorded');
    const recorder = api(executor);
    await recorder.request('POST', '/api/set', { key: 'k', value: 'v', ttl_ms: 1500 });
    await recorder.request('GET', '/api/get?key=k');
    await recorder.request('DELETE', '/api/delete?key=k');
    await recorder.request('GET', '/api/list?prefix=a*');
    await recorder.request('POST', '/api/batch', { set: { x: '1', y: '2' }, delete: ['z', 'w'] });
    expect(executor.calls).toEqual([
      ['SET', 'k', 'v', 'PX', '1500'], ['GET', 'k'], ['DEL', 'k'], ['SCAN', '0', 'MATCH', 'a\\**', 'COUNT', '1000'],
      ['SET', 'x', '1', 'SET', 'y', '2', 'DEL', 'z', 'w'],
    ]);
  });
});

describe('listing', () => {
  it('a prefix matches literally, whatever glob characters it holds', async () => {
    const local = api();
    const keys = ['', 'a*b', 'a*bc', 'axb', 'a?', 'ab', 'a[b]1', 'ab]1', 'a\\x', 'a\\\\x', 'ц*1', 'ц12'];
    for (const key of keys) expect((await local.request('POST', '/api/set', { key, value: `v:${key}` })).status).toBe(200);
    for (const prefix of ['a*b', 'a?', 'a[b]', 'a\\', 'a\\\\', 'ц*', 'ц', '', 'a']) {
      const response = await local.request('GET', `/api/list?prefix=${encodeURIComponent(prefix)}`);
      const expected = keys.filter((key) => key.startsWith(prefix)).sort().map((key) => ({ key, value: `v:${key}` }));
      expect(response.body, `prefix ${JSON.stringify(prefix)}`).toEqual({ pairs: expected });
    }
  });

  it('prefixPattern matches exactly the keys with the prefix, for random bytes', () => {
    const alphabet = Buffer.from('ab*?[]\\^-\xff', 'latin1');
    let state = 12345;
    const random = (bound: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % bound;
    };
    const word = (): Buffer => Buffer.from(Array.from({ length: random(5) }, () => alphabet[random(alphabet.length)] as number));
    for (let k = 0; k < 5000; k++) {
      const prefix = word();
      // Redis's matcher fails "*" against the empty key; SCAN and KEYS treat "*" as match-all
      // before matching, which the listing test covers.
      if (prefix.length === 0) continue;
      const key = random(2) === 0 ? Buffer.concat([prefix, word()]) : word();
      const expected = key.subarray(0, prefix.length).equals(prefix);
      expect(globMatch(prefixPattern(prefix), key), `prefix ${prefix.toString('latin1')} key ${key.toString('latin1')}`).toBe(expected);
    }
  });

  it('pages with limit and cursor: every key exactly once', async () => {
    const local = api();
    const total = 2500;
    const sets: Record<string, string> = {};
    for (let k = 0; k < total; k++) sets[`page:${k}`] = `v${k}`;
    await local.request('POST', '/api/batch', { set: sets });
    await local.request('POST', '/api/set', { key: 'other', value: 'x' });
    const seen = new Map<string, string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const response = await local.request('GET', `/api/list?prefix=page:&limit=700${cursor ? `&cursor=${cursor}` : ''}`);
      const body = response.body as { pairs: { key: string; value: string }[]; cursor?: string };
      expect(response.status).toBe(200);
      for (const { key, value } of body.pairs) {
        expect(seen.has(key), `${key} listed twice`).toBe(false);
        seen.set(key, value);
      }
      cursor = body.cursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toEqual(new Map(Object.entries(sets)));
  });
});
