// The value arena (src/state/value-arena.ts), and the keyspace's use of it: a record a snapshot in
// progress still has to read is freed only when the snapshot ends, and then it is freed.
import { describe, expect, it } from 'vitest';
import { StateMachine } from '../../src/state/index.js';
import { ARENA_VALUE_BYTES_MAX, ValueArena } from '../../src/state/value-arena.js';
import { EngineClient } from './state/harness.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');
const NOW = 1_700_000_000_000;

function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + seed * 17) & 0xff;
  return bytes;
}

describe('ValueArena', () => {
  it('gives back every value and index it holds, whatever the length, from a Buffer or a latin1 string', () => {
    const arena = new ValueArena();
    // 384 and 385 are either side of where writeValueTo stops copying word by word.
    const lengths = [0, 1, 3, 4, 15, 16, 63, 64, 65, 100, 384, 385, 1000, 1024, 4000, ARENA_VALUE_BYTES_MAX];
    const held = lengths.flatMap((length, k) => {
      const bytes = pattern(length, k);
      // A value in the middle of a larger buffer, as the log entry's bytes are.
      const source = Buffer.concat([b('xx'), bytes, b('yy')]);
      const fromBuffer = arena.store(source, 2, length, 2 ** 53 - 1 - k);
      const fromString = arena.store(`zz${bytes.toString('latin1')}`, 2, length, k);
      return [{ handle: fromBuffer, bytes, index: 2 ** 53 - 1 - k }, { handle: fromString, bytes, index: k }];
    });
    expect(new Set(held.map((h) => h.handle)).size).toBe(held.length);
    for (const { handle, bytes, index } of held) {
      expect(Number.isInteger(handle) && handle >= 0 && handle < 2 ** 30, `handle ${handle}`).toBe(true);
      expect(arena.length(handle)).toBe(bytes.length);
      expect(arena.modIndex(handle)).toBe(index);
      expect(arena.copyValue(handle).equals(bytes)).toBe(true);
      expect(arena.view(handle).equals(bytes)).toBe(true);
      expect(arena.valueString(handle)).toBe(bytes.toString('latin1'));
      // Written at an odd offset of a larger buffer (through its DataView, or copied when long),
      // with its tail bytes too.
      const target = Buffer.alloc(bytes.length + 8, 0xee);
      const view = new DataView(target.buffer, target.byteOffset, target.length);
      expect(arena.writeValueTo(handle, target, view, 3)).toBe(bytes.length);
      expect(target.subarray(3, 3 + bytes.length).equals(bytes)).toBe(true);
      expect([...target.subarray(0, 3), ...target.subarray(3 + bytes.length)].every((byte) => byte === 0xee)).toBe(true);
      const slab = arena.slabOf(handle);
      expect(slab.subarray(arena.valueOffset(handle), arena.valueOffset(handle) + bytes.length).equals(bytes)).toBe(true);
    }
  });

  it('reuses a freed record for a value of the same size class, and counts what is in use', () => {
    const arena = new ValueArena();
    const first = arena.store(pattern(64, 1), 0, 64, 1);
    const second = arena.store(pattern(64, 2), 0, 64, 2);
    const inUse = arena.bytesInUse;
    expect(inUse).toBeGreaterThanOrEqual(2 * (64 + 12));
    arena.free(first);
    expect(arena.bytesInUse).toBe(inUse / 2);
    // 60 bytes fall in the same 16-byte class as 64 (with the 12-byte header): the freed record.
    const third = arena.store(pattern(60, 3), 0, 60, 3);
    expect(third).toBe(first);
    expect(arena.copyValue(third).equals(pattern(60, 3))).toBe(true);
    expect(arena.copyValue(second).equals(pattern(64, 2))).toBe(true);
    // Another class gets a record of its own.
    const other = arena.store(pattern(200, 4), 0, 200, 4);
    expect([first, second].includes(other)).toBe(false);
  });

  it('grows past many slabs without mixing values up', () => {
    const arena = new ValueArena();
    const handles: number[] = [];
    for (let i = 0; i < 20_000; i++) handles.push(arena.store(pattern(100 + (i % 3) * 300, i), 0, 100 + (i % 3) * 300, i));
    expect(arena.bytesAllocated).toBeGreaterThan(5_000_000);
    for (let i = 0; i < handles.length; i += 997) {
      expect(arena.copyValue(handles[i]!).equals(pattern(100 + (i % 3) * 300, i)), `value ${i}`).toBe(true);
      expect(arena.modIndex(handles[i]!)).toBe(i);
    }
  });

  it('fails loudly on a record freed twice, or read after its free', () => {
    const arena = new ValueArena();
    const handle = arena.store(pattern(10, 1), 0, 10, 1);
    arena.free(handle);
    expect(() => arena.free(handle)).toThrow(/freed twice/);
    expect(() => arena.copyValue(handle)).toThrow(/freed arena record/);
    expect(() => arena.valueString(handle)).toThrow(/freed arena record/);
    expect(() => arena.length(handle)).toThrow(/freed arena record/);
    // Stored again, the record is live again.
    expect(arena.store(pattern(10, 2), 0, 10, 2)).toBe(handle);
    expect(arena.copyValue(handle).equals(pattern(10, 2))).toBe(true);
  });

  it('writes a value of the same size class over a record, keeping its handle, and refuses one of another class', () => {
    const arena = new ValueArena();
    const handle = arena.store(pattern(64, 1), 0, 64, 1);
    const neighbour = arena.store(pattern(64, 2), 0, 64, 2);
    const inUse = arena.bytesInUse;
    // 53..68 bytes share the 64-byte value's class (80-byte records with the 12-byte header).
    expect([53, 60, 68].map((length) => arena.fits(handle, length))).toEqual([true, true, true]);
    expect([52, 69, 200].map((length) => arena.fits(handle, length))).toEqual([false, false, false]);
    const source = Buffer.concat([b('xx'), pattern(60, 3)]);
    arena.rewrite(handle, source, 2, 60, 2 ** 40);
    expect(arena.copyValue(handle).equals(pattern(60, 3))).toBe(true);
    expect(arena.modIndex(handle)).toBe(2 ** 40);
    expect(arena.copyValue(neighbour).equals(pattern(64, 2))).toBe(true);
    expect(arena.bytesInUse).toBe(inUse);
    expect(() => arena.rewrite(handle, pattern(69, 4), 0, 69, 5)).toThrow(/do not fit/);
    expect(arena.copyValue(handle).equals(pattern(60, 3))).toBe(true);
    arena.free(handle);
    expect(() => arena.rewrite(handle, pattern(60, 5), 0, 60, 6)).toThrow(/freed arena record/);
    // The top class: 4,097 bytes round up to it but are longer than the arena keeps.
    const top = arena.store(pattern(ARENA_VALUE_BYTES_MAX, 5), 0, ARENA_VALUE_BYTES_MAX, 5);
    expect([ARENA_VALUE_BYTES_MAX, ARENA_VALUE_BYTES_MAX + 1].map((length) => arena.fits(top, length))).toEqual([true, false]);
    expect(() => arena.rewrite(top, pattern(ARENA_VALUE_BYTES_MAX + 1, 6), 0, ARENA_VALUE_BYTES_MAX + 1, 7)).toThrow(/do not fit/);
  });

  it('refuses a value longer than it keeps', () => {
    expect(() => new ValueArena().store(Buffer.alloc(ARENA_VALUE_BYTES_MAX + 1), 0, ARENA_VALUE_BYTES_MAX + 1, 1)).toThrow(/assertion/);
  });
});

describe('the keyspace and its arena during a snapshot', () => {
  /** Every chunk of a snapshot taken from `machine`, with `between` run after each chunk. */
  function snapshotWith(machine: StateMachine, between: (chunk: number) => void): Buffer[] {
    const writer = machine.beginSnapshot();
    const chunks: Buffer[] = [];
    for (let chunk = writer.nextChunk(256); chunk !== null; chunk = writer.nextChunk(256)) {
      chunks.push(chunk);
      between(chunks.length);
    }
    return chunks;
  }

  const valuesOf = (machine: StateMachine, keys: number): string[] => {
    const out: string[] = [];
    for (let i = 0; i < keys; i++) {
      const reply = machine.read(0, [b('GET'), b(`k:${i}`)], NOW);
      out.push(reply.kind === 'bulk' ? reply.value.toString('hex') : reply.kind);
    }
    return out;
  };

  it('images the values as they were, though each was overwritten or deleted (its record reused) meanwhile', () => {
    const client = new EngineClient(new StateMachine(), () => NOW);
    const keys = 2000;
    for (let i = 0; i < keys; i++) client.call('SET', `k:${i}`, pattern(64, i));
    const before = valuesOf(client.machine, keys);
    let next = 0;
    const chunks = snapshotWith(client.machine, () => {
      // Same length, so a record freed at once would be the next one handed out.
      for (let n = 0; n < 40 && next < keys; n++, next++) {
        if (next % 3 === 0) client.call('DEL', `k:${next}`);
        else client.call('SET', `k:${next}`, pattern(64, next + 1_000_000));
      }
    });
    expect(next).toBeGreaterThan(keys / 2);
    const restored = new StateMachine();
    restored.restoreFromChunks(chunks);
    expect(valuesOf(restored, keys)).toEqual(before);
  });

  it('keeps a value longer than the arena takes out of it, even over a record of the top size class', () => {
    // 4,097-4,100 bytes round up to the same 16-byte class as 4,096: a SET of one over an arena
    // value of 4,085-4,096 bytes once wrote it into that record, and SWAPDB then failed to copy it.
    const client = new EngineClient(new StateMachine(), () => NOW);
    client.call('SET', 'k:0', pattern(ARENA_VALUE_BYTES_MAX, 1));
    const arenaBytes = client.machine.info(NOW).arenaBytesInUse;
    expect(arenaBytes).toBeGreaterThan(ARENA_VALUE_BYTES_MAX);
    client.call('SET', 'k:0', pattern(ARENA_VALUE_BYTES_MAX + 4, 2));
    expect(client.machine.info(NOW).arenaBytesInUse).toBe(0);
    expect(client.call('SWAPDB', '0', '1')).toEqual({ kind: 'simple', value: 'OK' });
    expect(client.call('SELECT', '1')).toEqual({ kind: 'simple', value: 'OK' });
    const restored = new StateMachine();
    restored.restoreFromChunks(snapshotWith(client.machine, () => undefined));
    // The same figures as the replica that applied the writes, but for the slabs it allocated.
    const unallocated = { arenaBytesAllocated: 0, keyTableBytesAllocated: 0 };
    expect({ ...restored.info(NOW), ...unallocated }).toEqual({ ...client.machine.info(NOW), ...unallocated });
    const reply = restored.read(1, [b('GET'), b('k:0')], NOW);
    expect(reply.kind === 'bulk' && reply.value.equals(pattern(ARENA_VALUE_BYTES_MAX + 4, 2))).toBe(true);
  });

  it('frees the records it kept once the snapshot ends, or is replaced by a newer one', () => {
    for (const ending of ['finished', 'replaced'] as const) {
      const client = new EngineClient(new StateMachine(), () => NOW);
      const keys = 500;
      for (let i = 0; i < keys; i++) client.call('SET', `k:${i}`, pattern(64, i));
      const arena = { get bytesInUse() { return client.machine.info(NOW).arenaBytesInUse; }, get bytesAllocated() { return client.machine.info(NOW).arenaBytesAllocated; } };
      const inUse = arena.bytesInUse;
      const writer = client.machine.beginSnapshot();
      // Overwrite every key before the snapshot copies any: each old record is kept for it.
      for (let i = 0; i < keys; i++) client.call('SET', `k:${i}`, pattern(64, i + 7));
      expect(arena.bytesInUse, ending).toBe(2 * inUse);
      if (ending === 'finished') {
        while (writer.nextChunk(1 << 16) !== null);
      } else {
        client.machine.beginSnapshot();
      }
      expect(arena.bytesInUse, ending).toBe(inUse);
      // And the records are reused: writing every key again takes no new slab.
      const allocated = arena.bytesAllocated;
      for (let i = 0; i < keys; i++) client.call('SET', `k:${i}`, pattern(64, i + 9));
      expect(arena.bytesAllocated, ending).toBe(allocated);
    }
  });
});
