// Values off the JavaScript heap. A database keeps each short value without expiry (the common
// `SET key value`) as a record in slabs of external memory, and its Map holds only the record's
// handle, a small integer (a Smi: no object). Before, each such value was a V8 string: an object
// the young-generation collector copied when it survived, and garbage in the old generation once
// overwritten, which the next mark-compact had to find; on a 1 GB dataset of 1 KB values the
// heap was 1.3 GB of them, and the mark-compacts that walked it held the event loop for a
// quarter of a second (docs/performance.md, eighth session).
//
// Layout: slabs of up to SLAB_BYTES (a class's first is 4 KiB, each next one twice as large),
// each cut into records of one size class (16-byte steps, so a record wastes under 16 bytes). A
// record is the value's modIndex (f64), its length (u32) and its bytes. Records start at
// multiples of 16, so the two fields are read and written through a Float64Array and a
// Uint32Array over the slab (Buffer's readUInt32LE and readDoubleLE were a tenth of a snapshot's
// time). A handle is (slab number << SLOT_BITS) | record number within the slab. Freed records go
// on their class's free list and are reused first; slabs are never given back (as with an
// allocator's arenas: a database whose values change size keeps the old classes' slabs). When a
// class cannot grow (more than MAX_SLABS slabs in all), store() returns -1 and the caller keeps
// the value on the heap instead.
//
// A handle is valid until free(). Whoever frees one, or writes over it (rewrite()), must know
// that nothing still reads the old value: the keyspace defers the frees of records a snapshot in
// progress may still read, and writes over a record only when no snapshot will (Keyspace.store,
// Keyspace.putBytes).

/** The longest value kept here (the keyspace keeps longer ones as Entry objects). */
export const ARENA_VALUE_BYTES_MAX = 4096;
const RECORD_HEADER_BYTES = 12;
/** Where a record's length is, in bytes from its start (its modIndex is at 0). */
const LENGTH_OFFSET = 8;
/** A freed record's length field: freeing it again, or reading it, fails loudly. */
const FREED = 0xffffffff;
const CLASS_STEP_SHIFT = 4;
const CLASS_STEP_BYTES = 1 << CLASS_STEP_SHIFT;
const SLAB_BYTES = 256 * 1024;
const FIRST_SLAB_BYTES = 4 * 1024;
const SLOT_BITS = 14;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
/** Slab numbers fit in 16 bits, so that a handle stays below 2^30 (a Smi on every V8 build). */
const MAX_SLABS = 1 << 16;
const CLASS_COUNT = Math.ceil((RECORD_HEADER_BYTES + ARENA_VALUE_BYTES_MAX) / CLASS_STEP_BYTES) + 1;

/**
 * Copies `length` bytes of `source` from `start` into `target` at `at`: a loop for short runs,
 * and Buffer.copy beyond. The loop costs about 2.3 ns a byte and allocates nothing; Buffer.copy
 * about 120 ns whatever the length (Node 20), and it makes a view of the source each time: with
 * it for 64-byte values, the arena's overwrites were a twentieth of what the leader allocated.
 * Copying four bytes at a time through DataViews was 45 ns for 64 bytes alone, but slower in the
 * state machine: reading a Buffer's `buffer` and `byteOffset` costs more.
 */
function copyBytes(source: Buffer, start: number, target: Buffer, at: number, length: number): void {
  if (length <= 64) {
    for (let i = 0; i < length; i++) target[at + i] = source[start + i]!;
  } else {
    source.copy(target, at, start, start + length);
  }
}

/** writeValueTo copies values up to this long word by word, and longer ones with Buffer.copy. */
const WORD_COPY_MAX_BYTES = 384;

/** Whether a Uint32Array reads memory little-endian: DataView writes the same bytes back with it. */
const NATIVE_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The size class of a value of `length` bytes: its records' size in CLASS_STEP_BYTES. */
function classOf(length: number): number {
  return (RECORD_HEADER_BYTES + length + CLASS_STEP_BYTES - 1) >>> CLASS_STEP_SHIFT;
}

/** A growable stack of handles. */
class HandleStack {
  items = new Int32Array(64);
  size = 0;

  push(handle: number): void {
    if (this.size === this.items.length) {
      const grown = new Int32Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.size++] = handle;
  }

  pop(): number {
    return this.items[--this.size]!;
  }
}

interface SizeClass {
  readonly recordBytes: number;
  readonly free: HandleStack;
  /** The slab being filled for the first time: its number, capacity, and records handed out. */
  currentSlab: number;
  capacity: number;
  used: number;
  /** The next slab's size: a class's first slab is small (a test makes thousands of keyspaces). */
  nextSlabBytes: number;
}

export class ValueArena {
  private readonly slabs: Buffer[] = [];
  private readonly slabRecordBytes: number[] = [];
  /** Each slab's memory as u32s (records' lengths, and values read four bytes at a time) and as f64s (modIndexes). */
  private readonly slabWords: Uint32Array[] = [];
  private readonly slabFloats: Float64Array[] = [];
  private readonly classes: (SizeClass | undefined)[] = new Array<SizeClass | undefined>(CLASS_COUNT);
  private slabBytesTotal = 0;
  /** Bytes of the records handed out and not freed (their whole size class). */
  bytesInUse = 0;

  /** External memory the slabs take. */
  get bytesAllocated(): number {
    return this.slabBytesTotal;
  }

  /**
   * A new record holding `length` bytes of `source` from `start` (a Buffer, or a latin1 string
   * with one char per byte) and `modIndex`; its handle, or -1 when the arena is full.
   */
  store(source: Buffer | string, start: number, length: number, modIndex: number): number {
    if (length > ARENA_VALUE_BYTES_MAX) throw new Error(`assertion: ${length} bytes for the value arena`);
    const handle = this.allocate(length);
    if (handle < 0) return -1;
    const number = handle >>> SLOT_BITS;
    const slab = this.slabs[number]!;
    const at = (handle & SLOT_MASK) * this.slabRecordBytes[number]!;
    this.slabWords[number]![(at + LENGTH_OFFSET) >>> 2] = length;
    this.slabFloats[number]![at >>> 3] = modIndex;
    const to = at + RECORD_HEADER_BYTES;
    if (typeof source === 'string') {
      for (let i = 0; i < length; i++) slab[to + i] = source.charCodeAt(start + i);
    } else {
      copyBytes(source, start, slab, to, length);
    }
    return handle;
  }

  /**
   * True if a value of `length` bytes may be kept here and belongs to the size class of the record
   * `handle`. (4,097 to 4,100 bytes round up to the top class too, but are not kept here.)
   */
  fits(handle: number, length: number): boolean {
    return length <= ARENA_VALUE_BYTES_MAX && classOf(length) * CLASS_STEP_BYTES === this.slabRecordBytes[handle >>> SLOT_BITS];
  }

  /**
   * Overwrites the record `handle` with `length` bytes of `source` from `start` and `modIndex`,
   * which must fit its size class (fits()); the handle stays valid. The caller must know that
   * nothing still reads the old value (as for free()).
   */
  rewrite(handle: number, source: Buffer, start: number, length: number, modIndex: number): void {
    if (!this.fits(handle, length)) throw new Error(`assertion: ${length} bytes do not fit arena record ${handle}`);
    const number = handle >>> SLOT_BITS;
    const at = this.recordAt(handle);
    this.lengthAt(handle); // fails loudly on a freed record
    this.slabWords[number]![(at + LENGTH_OFFSET) >>> 2] = length;
    this.slabFloats[number]![at >>> 3] = modIndex;
    copyBytes(source, start, this.slabs[number]!, at + RECORD_HEADER_BYTES, length);
  }

  free(handle: number): void {
    const lengths = this.slabWords[handle >>> SLOT_BITS]!;
    const field = (this.recordAt(handle) + LENGTH_OFFSET) >>> 2;
    if (lengths[field] === FREED) throw new Error(`assertion: arena record ${handle} freed twice`);
    lengths[field] = FREED;
    const recordBytes = this.slabRecordBytes[handle >>> SLOT_BITS]!;
    this.classes[recordBytes / CLASS_STEP_BYTES]!.free.push(handle);
    this.bytesInUse -= recordBytes;
  }

  length(handle: number): number {
    return this.lengthAt(handle);
  }

  modIndex(handle: number): number {
    return this.slabFloats[handle >>> SLOT_BITS]![this.recordAt(handle) >>> 3]!;
  }

  /** The slab holding the record; its value's bytes start at valueOffset(handle). */
  slabOf(handle: number): Buffer {
    return this.slabs[handle >>> SLOT_BITS]!;
  }

  valueOffset(handle: number): number {
    return this.recordAt(handle) + RECORD_HEADER_BYTES;
  }

  /**
   * Writes the value's bytes at `at` of `target`, whose DataView is `targetView`. Up to
   * WORD_COPY_MAX_BYTES, four at a time through the DataView (a record's bytes start 4-aligned):
   * Buffer.copy costs about 120 ns whatever the length, a loop of byte stores 2.3 ns a byte, this
   * 45 ns for 64 bytes. Longer values with Buffer.copy: a snapshot of 1 KB values took 1.2-1.6 µs
   * a key with it against 1.5-1.9 µs (bench/hot-paths.ts --value-bytes 1024), of 512-byte values
   * 1.1-1.3 µs against 1.2-1.3; at 256 bytes the copy was the slower. Returns the value's length.
   */
  writeValueTo(handle: number, target: Buffer, targetView: DataView, at: number): number {
    const length = this.lengthAt(handle);
    if (length > WORD_COPY_MAX_BYTES) {
      const from = this.recordAt(handle) + RECORD_HEADER_BYTES;
      this.slabs[handle >>> SLOT_BITS]!.copy(target, at, from, from + length);
      return length;
    }
    const words = this.slabWords[handle >>> SLOT_BITS]!;
    const first = (this.recordAt(handle) + RECORD_HEADER_BYTES) >>> 2;
    const whole = length >>> 2;
    for (let k = 0; k < whole; k++) targetView.setUint32(at + 4 * k, words[first + k]!, NATIVE_LITTLE_ENDIAN);
    if ((length & 3) !== 0) {
      const slab = this.slabs[handle >>> SLOT_BITS]!;
      const from = 4 * (first + whole);
      for (let i = 4 * whole; i < length; i++) targetView.setUint8(at + i, slab[from + i - 4 * whole]!);
    }
    return length;
  }

  /** Whether the record holds exactly the chars of `text` (a latin1 string, one char per byte). */
  equalsString(handle: number, text: string): boolean {
    const length = text.length;
    if (this.lengthAt(handle) !== length) return false;
    const slab = this.slabs[handle >>> SLOT_BITS]!;
    const from = this.recordAt(handle) + RECORD_HEADER_BYTES;
    for (let i = 0; i < length; i++) if (slab[from + i] !== text.charCodeAt(i)) return false;
    return true;
  }

  /** Whether the record holds exactly `length` bytes of `source` from `start`. */
  equalsBytes(handle: number, source: Uint8Array, start: number, length: number): boolean {
    if (this.lengthAt(handle) !== length) return false;
    const slab = this.slabs[handle >>> SLOT_BITS]!;
    const from = this.recordAt(handle) + RECORD_HEADER_BYTES;
    for (let i = 0; i < length; i++) if (slab[from + i] !== source[start + i]) return false;
    return true;
  }

  /** The value's bytes in a new Buffer. */
  copyValue(handle: number): Buffer {
    const length = this.lengthAt(handle);
    const out = Buffer.allocUnsafe(length);
    copyBytes(this.slabs[handle >>> SLOT_BITS]!, this.recordAt(handle) + RECORD_HEADER_BYTES, out, 0, length);
    return out;
  }

  /** The value as a latin1 string (one char per byte). */
  valueString(handle: number): string {
    const from = this.recordAt(handle) + RECORD_HEADER_BYTES;
    return this.slabs[handle >>> SLOT_BITS]!.toString('latin1', from, from + this.lengthAt(handle));
  }

  /** A view of the value's bytes, valid until the record is freed. */
  view(handle: number): Buffer {
    const from = this.recordAt(handle) + RECORD_HEADER_BYTES;
    return this.slabs[handle >>> SLOT_BITS]!.subarray(from, from + this.lengthAt(handle));
  }

  private lengthAt(handle: number): number {
    const length = this.slabWords[handle >>> SLOT_BITS]![(this.recordAt(handle) + LENGTH_OFFSET) >>> 2]!;
    if (length === FREED) throw new Error('assertion: read of a freed arena record');
    return length;
  }

  private recordAt(handle: number): number {
    return (handle & SLOT_MASK) * this.slabRecordBytes[handle >>> SLOT_BITS]!;
  }

  private allocate(length: number): number {
    const classIndex = classOf(length);
    let sizeClass = this.classes[classIndex];
    if (sizeClass === undefined) {
      const recordBytes = classIndex * CLASS_STEP_BYTES;
      sizeClass = { recordBytes, free: new HandleStack(), currentSlab: -1, capacity: 0, used: 0, nextSlabBytes: Math.max(FIRST_SLAB_BYTES, recordBytes) };
      this.classes[classIndex] = sizeClass;
    }
    let handle: number;
    if (sizeClass.free.size > 0) {
      handle = sizeClass.free.pop();
    } else {
      if (sizeClass.used === sizeClass.capacity) {
        if (this.slabs.length >= MAX_SLABS) return -1;
        const slabBytes = sizeClass.nextSlabBytes;
        sizeClass.nextSlabBytes = Math.min(SLAB_BYTES, slabBytes * 2);
        sizeClass.currentSlab = this.slabs.length;
        sizeClass.capacity = Math.floor(slabBytes / sizeClass.recordBytes);
        sizeClass.used = 0;
        const slab = Buffer.allocUnsafeSlow(sizeClass.capacity * sizeClass.recordBytes);
        this.slabs.push(slab);
        this.slabWords.push(new Uint32Array(slab.buffer, slab.byteOffset, slab.length >>> 2));
        this.slabFloats.push(new Float64Array(slab.buffer, slab.byteOffset, slab.length >>> 3));
        this.slabRecordBytes.push(sizeClass.recordBytes);
        this.slabBytesTotal += sizeClass.capacity * sizeClass.recordBytes;
      }
      handle = (sizeClass.currentSlab << SLOT_BITS) | sizeClass.used++;
    }
    this.bytesInUse += sizeClass.recordBytes;
    return handle;
  }
}
