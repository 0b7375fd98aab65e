// The receiving end of a snapshot stream: an async iterable of chunks fed by the socket, with
// backpressure. The transport pushes chunks as frames arrive and pauses the socket once
// `bufferedBytes` passes its limit; the consumer pulling chunks out calls `onRelieved`, which
// resumes it. So a slow snapshot writer holds back the sender's TCP window, not our memory.

export class ChunkStream implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  /** Bytes pushed and not yet taken by the consumer. */
  bufferedBytes = 0;
  private ended = false;
  private failure: Error | undefined;
  private waiter: { resolve: (result: IteratorResult<Buffer>) => void; reject: (err: Error) => void } | undefined;
  private iterated = false;
  /** The consumer stopped early; later chunks are discarded. */
  private abandoned = false;

  constructor(private readonly onRelieved: () => void) {}

  get isFinished(): boolean {
    return this.ended || this.failure !== undefined;
  }

  push(chunk: Buffer): void {
    if (this.isFinished) throw new Error('push after the chunk stream finished');
    if (this.abandoned) return;
    if (this.waiter !== undefined) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ done: false, value: chunk });
      return;
    }
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** The stream is complete: the consumer sees `done` after the buffered chunks. */
  end(): void {
    if (this.isFinished) return;
    this.ended = true;
    this.settleWaiter();
  }

  /** The stream broke: the consumer's next pull rejects with `err` (after any buffered chunks). */
  fail(err: Error): void {
    if (this.isFinished) return;
    this.failure = err;
    this.settleWaiter();
  }

  /** Nobody will read further: drop what is buffered and whatever is pushed later. */
  discard(): void {
    this.abandoned = true;
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    this.onRelieved();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.iterated) throw new Error('a snapshot chunk stream can be iterated only once');
    this.iterated = true;
    return {
      next: () => this.pull(),
      return: () => {
        this.discard();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  private pull(): Promise<IteratorResult<Buffer>> {
    const chunk = this.chunks.shift();
    if (chunk !== undefined) {
      this.bufferedBytes -= chunk.length;
      this.onRelieved();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    if (this.waiter !== undefined) throw new Error('concurrent next() on a snapshot chunk stream');
    this.onRelieved();
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private settleWaiter(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (this.failure !== undefined) waiter.reject(this.failure);
    else waiter.resolve({ done: true, value: undefined });
  }
}
