// The simulator's agenda: a binary min-heap of events ordered by simulated time, ties broken by
// insertion order. Breaking ties by a sequence number (never by object identity or by anything
// the heap's shape decides) keeps a run a pure function of its seed.

export interface Scheduled<E> {
  readonly timeMs: number;
  readonly seq: number;
  readonly event: E;
}

export class EventQueue<E> {
  private heap: Scheduled<E>[] = [];
  private seqNext = 0;

  get size(): number {
    return this.heap.length;
  }

  push(timeMs: number, event: E): void {
    if (!Number.isInteger(timeMs) || timeMs < 0) throw new Error(`event time must be a non-negative integer, got ${timeMs}`);
    const item: Scheduled<E> = { timeMs, seq: this.seqNext++, event };
    const heap = this.heap;
    heap.push(item);
    let at = heap.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      const above = heap[parent] as Scheduled<E>;
      if (!before(item, above)) break;
      heap[at] = above;
      at = parent;
    }
    heap[at] = item;
  }

  peek(): Scheduled<E> | undefined {
    return this.heap[0];
  }

  pop(): Scheduled<E> | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop() as Scheduled<E>;
    if (heap.length === 0) return top;
    let at = 0;
    const length = heap.length;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && before(heap[right] as Scheduled<E>, heap[left] as Scheduled<E>)) child = right;
      const below = heap[child] as Scheduled<E>;
      if (!before(below, last)) break;
      heap[at] = below;
      at = child;
    }
    heap[at] = last;
    return top;
  }
}

function before<E>(a: Scheduled<E>, b: Scheduled<E>): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}
