// The linearizability checker on histories small enough to verify by hand, then against a
// brute-force reference. The hand-made cases pin down the semantics that matter for a
// replicated store: a read may not go back in time, an operation with an unknown outcome may
// take effect late (or never) but never before it was invoked, a failed cas is an observation,
// and keys are independent. The differential test generates a few hundred random histories with
// a seeded PRNG (half of them corrupted so that both verdicts occur) and requires the search to
// agree with an exhaustive enumeration of every order the real-time constraints allow.

import { describe, expect, it } from 'vitest';
import {
  checkOperations,
  eventsToOperations,
  HistoryError,
  kvModel,
  parseJepsenKvHistory,
  parseJepsenRegisterHistory,
  parseJsonHistory,
  registerModel,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type Value,
} from '../../src/check/index.js';

// Builders: op(process, input, output, call, return).
const read = (value: Value, key = ''): [KvInput, KvOutput] => [{ f: 'read', key }, { type: 'ok', value }];
const write = (value: string, key = ''): [KvInput, KvOutput] => [{ f: 'write', key, value }, { type: 'ok' }];
const cas = (from: Value, to: string, ok: boolean, key = ''): [KvInput, KvOutput] =>
  [{ f: 'cas', key, from, to }, ok ? { type: 'ok' } : { type: 'fail' }];
const unknown = ([input]: [KvInput, KvOutput]): [KvInput, KvOutput] => [input, { type: 'unknown' }];
const get = (value: string, key: string): [KvInput, KvOutput] => [{ f: 'get', key }, { type: 'ok', value }];
const put = (value: string, key: string): [KvInput, KvOutput] => [{ f: 'put', key, value }, { type: 'ok' }];
const append = (value: string, key: string): [KvInput, KvOutput] => [{ f: 'append', key, value }, { type: 'ok' }];

function op(clientId: number, [input, output]: [KvInput, KvOutput], call: number, ret: number): KvOperation {
  return { clientId, input, output, call, return: output.type === 'unknown' ? Infinity : ret };
}

function verdict(ops: KvOperation[], model = registerModel): string {
  return checkOperations(model, ops, { timeoutMs: 5_000 }).result;
}

describe('register histories checked by hand', () => {
  const cases: { name: string; ops: KvOperation[]; expected: 'linearizable' | 'not-linearizable' }[] = [
    { name: 'empty history', ops: [], expected: 'linearizable' },
    { name: 'a read of a fresh register sees nil', ops: [op(0, read(null), 0, 1)], expected: 'linearizable' },
    { name: 'a read of a fresh register cannot see a value', ops: [op(0, read('1'), 0, 1)], expected: 'not-linearizable' },
    {
      name: 'a read after a completed write sees it',
      ops: [op(0, write('1'), 0, 1), op(1, read('1'), 2, 3)],
      expected: 'linearizable',
    },
    {
      name: 'a read after a completed write cannot see the old value (stale read)',
      ops: [op(0, write('1'), 0, 1), op(1, read(null), 2, 3)],
      expected: 'not-linearizable',
    },
    {
      name: 'a read concurrent with a write may see either value',
      ops: [op(0, write('1'), 0, 10), op(1, read(null), 2, 3), op(2, read('1'), 4, 5)],
      expected: 'linearizable',
    },
    {
      name: 'once a concurrent write is seen, a later read cannot unsee it',
      ops: [op(0, write('1'), 0, 10), op(1, read('1'), 2, 3), op(2, read(null), 4, 5)],
      expected: 'not-linearizable',
    },
    {
      name: 'a call and a return at the same time count as concurrent',
      ops: [op(0, write('1'), 0, 5), op(1, read(null), 5, 6)],
      expected: 'linearizable',
    },
    {
      name: 'the order of two completed writes is fixed by real time',
      ops: [op(0, write('1'), 0, 1), op(1, write('2'), 2, 3), op(2, read('1'), 4, 5)],
      expected: 'not-linearizable',
    },
    {
      name: 'a write with an unknown outcome may take effect long after it timed out',
      ops: [op(0, unknown(write('1')), 0, 0), op(1, read(null), 10, 11), op(1, read('1'), 20, 21)],
      expected: 'linearizable',
    },
    {
      name: 'a write with an unknown outcome may never take effect',
      ops: [op(0, unknown(write('1')), 0, 0), op(1, read(null), 10, 11), op(1, read(null), 20, 21)],
      expected: 'linearizable',
    },
    {
      name: 'a write with an unknown outcome cannot take effect before it was invoked',
      ops: [op(1, read('1'), 0, 1), op(0, unknown(write('1')), 5, 5)],
      expected: 'not-linearizable',
    },
    {
      name: 'a write with an unknown outcome takes effect at most once',
      ops: [
        op(0, unknown(write('1')), 0, 0),
        op(1, read('1'), 2, 3),
        op(1, write('2'), 4, 5),
        op(1, read('1'), 6, 7),
      ],
      expected: 'not-linearizable',
    },
    {
      name: 'a cas with an unknown outcome may apply late, when its comparison holds',
      ops: [op(0, write('1'), 0, 1), op(1, unknown(cas('1', '2', true)), 2, 2), op(2, read('1'), 3, 4), op(2, read('2'), 5, 6)],
      expected: 'linearizable',
    },
    {
      name: 'a cas with an unknown outcome cannot apply when its comparison never held',
      ops: [op(0, write('3'), 0, 1), op(1, unknown(cas('1', '2', true)), 2, 2), op(2, read('2'), 5, 6)],
      expected: 'not-linearizable',
    },
    {
      name: 'a successful cas from nil on a fresh register',
      ops: [op(0, cas(null, 'a', true), 0, 1), op(1, read('a'), 2, 3)],
      expected: 'linearizable',
    },
    {
      name: 'a failed cas says the value was not "from"',
      ops: [op(0, write('1'), 0, 1), op(1, cas('3', '2', false), 2, 3)],
      expected: 'linearizable',
    },
    {
      name: 'a failed cas cannot have failed when the value was "from"',
      ops: [op(0, write('1'), 0, 1), op(1, cas('1', '2', false), 2, 3)],
      expected: 'not-linearizable',
    },
    {
      name: 'a successful cas needs the value to be "from"',
      ops: [op(0, write('1'), 0, 1), op(1, cas('2', '3', true), 2, 3)],
      expected: 'not-linearizable',
    },
    {
      // Five concurrent writes of distinct values and a read of one never written: the search has
      // to exhaust every order before it may say no.
      name: 'no order of concurrent writes explains a value nobody wrote',
      ops: [...['1', '2', '3', '4', '5'].map((v, i) => op(i, write(v), 0, 10)), op(9, read('6'), 11, 12)],
      expected: 'not-linearizable',
    },
  ];
  for (const { name, ops, expected } of cases) {
    it(name, () => {
      expect(verdict(ops)).toBe(expected);
    });
  }
});

describe('the kv model', () => {
  it('reads a missing key as "" with get and as nil with read', () => {
    expect(verdict([op(0, get('', 'a'), 0, 1), op(0, read(null, 'a'), 2, 3)], kvModel)).toBe('linearizable');
    expect(verdict([op(0, get('', 'a'), 0, 1), op(0, read('', 'a'), 2, 3)], kvModel)).toBe('not-linearizable');
  });

  it('appends to the current value, in linearization order', () => {
    const ops = [
      op(0, append('x', 'a'), 0, 10),
      op(1, append('y', 'a'), 0, 10),
      op(2, get('yx', 'a'), 11, 12),
    ];
    expect(verdict(ops, kvModel)).toBe('linearizable');
    const impossible = [...ops.slice(0, 2), op(2, get('xx', 'a'), 11, 12)];
    expect(verdict(impossible, kvModel)).toBe('not-linearizable');
  });

  it('put replaces what append built', () => {
    const ops = [op(0, append('x', 'a'), 0, 1), op(0, put('p', 'a'), 2, 3), op(0, append('y', 'a'), 4, 5), op(1, get('py', 'a'), 6, 7)];
    expect(verdict(ops, kvModel)).toBe('linearizable');
  });

  it('checks each key on its own and names the key that fails', () => {
    // Were the keys one register, the get of "b" would have to see "1".
    const ok = [op(0, put('1', 'a'), 0, 1), op(1, get('', 'b'), 2, 3)];
    expect(verdict(ok, kvModel)).toBe('linearizable');
    const bad = [...ok, op(2, put('2', 'c'), 4, 5), op(2, get('', 'c'), 6, 7)];
    const result = checkOperations(kvModel, bad);
    expect(result.result).toBe('not-linearizable');
    expect(result.partitionCount).toBe(3);
    if (result.result !== 'not-linearizable') return;
    expect(result.key).toBe('c');
    expect(result.counterexample.linearized.map((o) => o.input)).toEqual([{ f: 'put', key: 'c', value: '2' }]);
    expect(result.counterexample.state).toBe('"2"');
    expect(result.counterexample.stuck.input).toEqual({ f: 'get', key: 'c' });
  });
});

describe('the search budget', () => {
  // Twelve concurrent writes and an impossible read: thousands of (set, value) pairs to explore.
  const hard = [...Array.from({ length: 12 }, (_, i) => op(i, write(String(i)), 0, 10)), op(20, read('x'), 11, 12)];

  it('is large enough to decide the hard history when unbounded', () => {
    const result = checkOperations(registerModel, hard);
    expect(result.result).toBe('not-linearizable');
    expect(result.steps).toBeGreaterThan(10_000);
  });

  it('gives up with unknown, naming the partition, when the steps run out', () => {
    const result = checkOperations(registerModel, hard, { maxSteps: 500 });
    expect(result).toMatchObject({ result: 'unknown', reason: 'step-budget', key: '' });
    expect(result.steps).toBe(501);
  });

  it('gives up with unknown when the clock passes the deadline', () => {
    let nowMs = 0;
    // Each look at the clock advances it by a second: the second look is past a 1.5 s budget.
    const result = checkOperations(registerModel, hard, { timeoutMs: 1_500, now: () => (nowMs += 1_000) - 1_000 });
    expect(result).toMatchObject({ result: 'unknown', reason: 'timeout' });
  });

  it('rejects an operation that returns before it is called', () => {
    expect(() => checkOperations(registerModel, [op(0, write('1'), 5, 4)])).toThrow(/before its call/);
  });
});

describe('the json history format', () => {
  const lines = (...records: object[]) => records.map((r) => JSON.stringify(r)).join('\n');

  it('matches completions to invocations by process and uses the time field', () => {
    const text = lines(
      { process: 0, type: 'invoke', f: 'write', key: 'k', value: 1, time: 100 },
      { process: 1, type: 'invoke', f: 'read', key: 'k', time: 150 },
      { process: 0, type: 'ok', f: 'write', key: 'k', value: 1, time: 200 },
      { process: 1, type: 'ok', f: 'read', key: 'k', value: '1', time: 250 },
    );
    expect(eventsToOperations(parseJsonHistory(text))).toEqual([
      { clientId: 0, input: { f: 'write', key: 'k', value: '1' }, output: { type: 'ok' }, call: 100, return: 200 },
      { clientId: 1, input: { f: 'read', key: 'k' }, output: { type: 'ok', value: '1' }, call: 150, return: 250 },
    ]);
  });

  it('uses the line order when there are no times, and skips blank lines', () => {
    const text = `${lines({ process: 0, type: 'invoke', f: 'read' })}\n\n${lines({ process: 0, type: 'ok', f: 'read', value: null })}\n`;
    expect(eventsToOperations(parseJsonHistory(text))).toEqual([
      { clientId: 0, input: { f: 'read', key: '' }, output: { type: 'ok', value: null }, call: 1, return: 3 },
    ]);
  });

  it('gives info and missing completions an infinite return, and frees the process after info', () => {
    const text = lines(
      { process: 0, type: 'invoke', f: 'write', value: 'a' },
      { process: 0, type: 'info', f: 'write', error: 'timeout' },
      { process: 0, type: 'invoke', f: 'cas', value: ['a', 'b'] },
    );
    const ops = eventsToOperations(parseJsonHistory(text));
    expect(ops.map((o) => [o.input.f, o.output.type, o.call, o.return])).toEqual([
      ['write', 'unknown', 1, Infinity],
      ['cas', 'unknown', 3, Infinity],
    ]);
  });

  it('drops reads with an unknown outcome: they changed nothing and observed nothing', () => {
    const text = lines(
      { process: 0, type: 'invoke', f: 'read', key: 'a' },
      { process: 0, type: 'info', f: 'read', key: 'a' },
      { process: 1, type: 'invoke', f: 'get', key: 'a' },
    );
    expect(eventsToOperations(parseJsonHistory(text))).toEqual([]);
  });

  it('keeps a failed cas as an observation, and drops other failures and errors', () => {
    const text = lines(
      { process: 0, type: 'invoke', f: 'cas', value: [null, 'b'] },
      { process: 0, type: 'fail', f: 'cas', value: [null, 'b'] },
      { process: 0, type: 'invoke', f: 'cas', value: ['x', 'y'] },
      { process: 0, type: 'fail', f: 'cas', error: 'not leader' },
      { process: 0, type: 'invoke', f: 'read' },
      { process: 0, type: 'fail', f: 'read', error: 'timeout' },
      { process: 0, type: 'invoke', f: 'write', value: 'w' },
      { process: 0, type: 'fail', f: 'write' },
    );
    const ops = eventsToOperations(parseJsonHistory(text));
    expect(ops).toEqual([
      { clientId: 0, input: { f: 'cas', key: '', from: null, to: 'b' }, output: { type: 'fail' }, call: 1, return: 2 },
    ]);
    // The failed cas claims the fresh register was not nil: a violation.
    expect(verdict(ops)).toBe('not-linearizable');
  });

  const errorCases: { name: string; text: string; code: string; line: number }[] = [
    { name: 'a line that is not JSON', text: '{"process":0,', code: 'bad-line', line: 1 },
    { name: 'an unknown function', text: lines({ process: 0, type: 'invoke', f: 'incr' }), code: 'bad-field', line: 1 },
    { name: 'a completion without an invocation', text: lines({ process: 3, type: 'ok', f: 'read', value: null }), code: 'unmatched-completion', line: 1 },
    {
      name: 'a second invocation while one is open',
      text: lines({ process: 0, type: 'invoke', f: 'read' }, { process: 0, type: 'invoke', f: 'read' }),
      code: 'overlapping-invocation',
      line: 2,
    },
    {
      name: 'a completion of another function',
      text: lines({ process: 0, type: 'invoke', f: 'read' }, { process: 0, type: 'ok', f: 'write', value: 1 }),
      code: 'mismatched-completion',
      line: 2,
    },
    {
      name: 'time on some lines only',
      text: lines({ process: 0, type: 'invoke', f: 'read', time: 1 }, { process: 0, type: 'ok', f: 'read', value: null }),
      code: 'bad-field',
      line: 2,
    },
    {
      name: 'a completion before its invocation',
      text: lines({ process: 0, type: 'invoke', f: 'read', time: 10 }, { process: 0, type: 'ok', f: 'read', value: null, time: 9 }),
      code: 'time-reversed',
      line: 2,
    },
    { name: 'a cas without [from, to]', text: lines({ process: 0, type: 'invoke', f: 'cas', value: 'x' }), code: 'bad-field', line: 1 },
  ];
  for (const { name, text, code, line } of errorCases) {
    it(`rejects ${name}`, () => {
      const run = () => eventsToOperations(parseJsonHistory(text));
      expect(run).toThrow(HistoryError);
      expect(run).toThrow(expect.objectContaining({ code, line }));
    });
  }

  it('refuses kv functions under the register model', () => {
    const text = lines({ process: 0, type: 'invoke', f: 'append', value: 'x' });
    expect(() => eventsToOperations(parseJsonHistory(text), ['read', 'write', 'cas'])).toThrow(/no "append"/);
  });
});

describe('the jepsen readers', () => {
  it('reads jepsen.util register lines, dropping timed-out reads and nemesis lines', () => {
    const text = [
      'INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0]',
      'INFO  jepsen.util - 1   :invoke   :read   nil',
      'INFO  jepsen.util - :nemesis\t:info\t:start\tnil',
      'INFO  jepsen.util - 1\t:fail\t:read\t:timed-out',
      'INFO  jepsen.util - 3\t:fail\t:cas\t[3 0]',
      'INFO  jepsen.util - 4\t:invoke\t:write\t2',
      'INFO  jepsen.util - 4\t:info\t:write\t:timed-out',
      '',
    ].join('\n');
    expect(eventsToOperations(parseJepsenRegisterHistory(text))).toEqual([
      { clientId: 3, input: { f: 'cas', key: '', from: '3', to: '0' }, output: { type: 'fail' }, call: 1, return: 5 },
      { clientId: 4, input: { f: 'write', key: '', value: '2' }, output: { type: 'unknown' }, call: 6, return: Infinity },
    ]);
  });

  it('reads EDN maps with escaped strings', () => {
    const text = [
      '{:process 0, :type :invoke, :f :append, :key "4", :value "a \\"b\\""}',
      '{:process 0, :type :ok, :f :append, :key "4", :value "a \\"b\\""}',
      '{:process 1, :type :invoke, :f :get, :key "4", :value nil}',
      '{:process 1, :type :ok, :f :get, :key "4", :value "a \\"b\\""}',
    ].join('\n');
    const ops = eventsToOperations(parseJepsenKvHistory(text));
    expect(ops.map((o) => [o.input, o.output])).toEqual([
      [{ f: 'append', key: '4', value: 'a "b"' }, { type: 'ok' }],
      [{ f: 'get', key: '4' }, { type: 'ok', value: 'a "b"' }],
    ]);
  });

  it('reports the line of a malformed event', () => {
    expect(() => parseJepsenKvHistory('{:process 0, :type :invoke, :f :get, :key "4"}\n{:process 0 :type}')).toThrow(
      expect.objectContaining({ line: 2 }),
    );
    expect(() => parseJepsenRegisterHistory('INFO  jepsen.util - 1\t:invoke\t:read\tnil\nsomething else')).toThrow(
      expect.objectContaining({ code: 'bad-line', line: 2 }),
    );
  });
});

// ---- Differential test against exhaustive enumeration ----

/** mulberry32: a small seeded PRNG, so every generated history can be replayed by its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A history from a simulated store: each process runs one operation at a time, and each
 * operation takes effect at a random moment between its call and its return (so the history is
 * linearizable), or for an unknown outcome at some later moment or never. With `corrupt`, one
 * read or get is made to report a different value, which usually, not always, breaks it.
 */
function generateHistory(seed: number, corrupt: boolean): KvOperation[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const keys = ['a', 'b'];
  const values = ['1', '2', '3'];
  const store = new Map<string, Value>();
  type Pending = { process: number; input: KvInput; call: number; applied?: KvOutput; gaveUp: boolean };
  const open: Pending[] = [];
  const busy = new Set<number>();
  const ops: KvOperation[] = [];
  const opCount = 3 + Math.floor(random() * 5);
  let started = 0;
  for (let time = 0; started < opCount || open.length > 0; time += 1) {
    const process = Math.floor(random() * 3);
    if (!busy.has(process) && started < opCount && random() < 0.5) {
      const key = pick(keys);
      const f = pick(['read', 'get', 'write', 'put', 'append', 'cas'] as const);
      const input: KvInput =
        f === 'read' || f === 'get' ? { f, key }
        : f === 'cas' ? { f, key, from: pick([null, ...values]), to: pick(values) }
        : { f, key, value: pick(values) };
      open.push({ process, input, call: time, gaveUp: false });
      busy.add(process);
      started += 1;
      continue;
    }
    if (open.length === 0) continue;
    const pending = pick(open);
    if (pending.applied === undefined && random() < 0.5) {
      const before = store.get(pending.input.key) ?? null;
      const [, after] = kvModel.step(before, pending.input, { type: 'unknown' });
      store.set(pending.input.key, after);
      const f = pending.input.f;
      pending.applied =
        f === 'read' ? { type: 'ok', value: before }
        : f === 'get' ? { type: 'ok', value: before ?? '' }
        : f === 'cas' && pending.input.from !== before ? { type: 'fail' }
        : { type: 'ok' };
    }
    if (pending.gaveUp) {
      // An unknown operation after its info: it either has taken effect or may never.
      if (pending.applied !== undefined || random() < 0.3) open.splice(open.indexOf(pending), 1);
      continue;
    }
    if (random() < 0.15 && pending.input.f !== 'read' && pending.input.f !== 'get') {
      pending.gaveUp = true;
      busy.delete(pending.process);
      ops.push({ clientId: pending.process, input: pending.input, output: { type: 'unknown' }, call: pending.call, return: Infinity });
      if (pending.applied !== undefined) open.splice(open.indexOf(pending), 1);
      continue;
    }
    if (pending.applied !== undefined) {
      busy.delete(pending.process);
      open.splice(open.indexOf(pending), 1);
      ops.push({ clientId: pending.process, input: pending.input, output: pending.applied, call: pending.call, return: time });
    }
  }
  if (corrupt) {
    const reads = ops.filter((o) => o.input.f === 'read' || o.input.f === 'get');
    if (reads.length > 0) {
      const victim = pick(reads);
      const index = ops.indexOf(victim);
      const wrong = pick(values.filter((v) => v !== (victim.output as { value: Value }).value));
      ops[index] = { ...victim, output: { type: 'ok', value: wrong } };
    }
  }
  return ops;
}

/**
 * The definition, executed: some total order of all operations respects real time (an
 * operation that returned before another was called comes first) and is legal for the
 * whole store, keys together, from its initial state.
 */
function bruteForceLinearizable(ops: readonly KvOperation[]): boolean {
  const placed = new Array<boolean>(ops.length).fill(false);
  const search = (store: ReadonlyMap<string, Value>, count: number): boolean => {
    if (count === ops.length) return true;
    for (const [i, candidate] of ops.entries()) {
      if (placed[i]) continue;
      const blocked = ops.some((other, j) => !placed[j] && j !== i && other.return < candidate.call);
      if (blocked) continue;
      const [ok, value] = kvModel.step(store.get(candidate.input.key) ?? null, candidate.input, candidate.output);
      if (!ok) continue;
      placed[i] = true;
      const found = search(new Map(store).set(candidate.input.key, value), count + 1);
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(new Map(), 0);
}

describe('agreement with exhaustive enumeration', () => {
  const collidingModel = { ...kvModel, hash: () => 7 };

  it('reaches the brute-force verdict on 400 random histories', () => {
    let linearizable = 0;
    let violations = 0;
    for (let seed = 1; seed <= 400; seed += 1) {
      const ops = generateHistory(seed, seed % 2 === 0);
      const expected = bruteForceLinearizable(ops) ? 'linearizable' : 'not-linearizable';
      const actual = checkOperations(kvModel, ops).result;
      expect(actual, `seed=${seed}: ${JSON.stringify(ops)}`).toBe(expected);
      // A hash that always collides leaves the cache to tell states apart by equality alone.
      const colliding = checkOperations(collidingModel, ops).result;
      expect(colliding, `seed=${seed} with colliding hashes: ${JSON.stringify(ops)}`).toBe(expected);
      if (expected === 'linearizable') linearizable += 1;
      else violations += 1;
    }
    // Both verdicts must be well represented, or the comparison proves little.
    expect(linearizable).toBeGreaterThan(100);
    expect(violations).toBeGreaterThan(50);
  });

  it('finds every uncorrupted generated history linearizable', () => {
    for (let seed = 1000; seed < 1100; seed += 1) {
      expect(checkOperations(kvModel, generateHistory(seed, false)).result, `seed=${seed}`).toBe('linearizable');
    }
  });
});
