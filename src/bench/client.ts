// One benchmark client: memtier's "connection", i.e. one key sequence, one SET/GET ratio cycle
// and one connection per master it talks to (exactly one outside cluster mode). The hot path is
// synchronous and callback-driven: a data event feeds the reply scanner, each complete reply
// retires the oldest outstanding request of that connection (replies come back in request
// order), and then the client tops every connection back up to `pipeline` outstanding requests
// with a single socket write each.
//
// Cluster mode (memtier's --cluster-mode): before the run the client asks the seed server for
// CLUSTER SLOTS and opens a connection to every master; each request goes to the master of its
// key's slot. A `-MOVED` reply re-routes that slot, re-sends the request to the named master
// (its latency still counts from the first send) and refreshes the whole map from that master,
// since a raftis leader change moves all 16384 slots at once.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type * as hdr from 'hdr-histogram-js';
import {
  KeySlotter,
  SlotMap,
  parseClusterSlots,
  parseMoved,
  splitAddress,
  type SlotRange,
} from './cluster.js';
import { KeyGenerator, RatioCycle } from './key-pattern.js';
import type { BenchOptions } from './options.js';
import { ReplyKind, ReplyScanner, type ReplySink } from './reply-scanner.js';
import { RequestEncoder } from './request-encoder.js';
import { decodeResp, encodeCommand, type RespValue } from './resp-value.js';
import { LATENCY_US_MAX, createLatencyHistogram, emptyCounters } from './stats.js';

const KIND_SET = 0;
const KIND_GET = 1;

/** A request redirected more often than this is given up as an error: the cluster is flapping. */
export const REDIRECTS_MAX = 5;
/** Error replies kept verbatim for the final report; the rest are only counted. */
const ERROR_SAMPLES_MAX = 10;
/** Bytes of one socket write when the pipeline allows many requests at once. */
const WRITE_CHUNK_BYTES = 16 * 1024;
/** Size of each connection's read buffer. */
const READ_BUFFER_BYTES = 16 * 1024;

/** Operating error: a connection failed or closed under the benchmark. */
export class BenchConnectionError extends Error {
  readonly code = 'EBENCHCONNECTION';
  constructor(message: string) {
    super(message);
    this.name = 'BenchConnectionError';
  }
}

/** Records one value many times in one call when consecutive values repeat, as pipelined replies do. */
class CoalescingRecorder {
  private value = -1;
  private count = 0;

  constructor(readonly histogram: hdr.Histogram) {}

  record(valueUs: number): void {
    if (valueUs === this.value) {
      this.count++;
      return;
    }
    this.flush();
    this.value = valueUs;
    this.count = 1;
  }

  flush(): void {
    if (this.count > 0) this.histogram.recordValueWithCount(this.value, this.count);
    this.count = 0;
    this.value = -1;
  }
}

/** What all clients of one worker thread record into. */
export class WorkerStats {
  readonly sets = emptyCounters();
  readonly gets = emptyCounters();
  readonly setRecorder = new CoalescingRecorder(createLatencyHistogram());
  readonly getRecorder = new CoalescingRecorder(createLatencyHistogram());
  /** Sum of recorded latencies, for the progress line's running average. */
  latencyUsSum = 0;
  readonly errorSamples: string[] = [];
  /** The time of the data event being handled, read once per event rather than per reply. */
  now = 0;

  recordError(address: string, text: string): void {
    if (this.errorSamples.length < ERROR_SAMPLES_MAX) this.errorSamples.push(`server ${address} handle error response: ${text}`);
  }

  flush(): void {
    this.setRecorder.flush();
    this.getRecorder.flush();
  }
}

/** Sends one command on a connection of its own and returns the decoded reply. */
export function queryOnce(host: string, port: number, command: readonly string[], timeoutMs = 5_000): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let input: Buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new BenchConnectionError(`${host}:${port}: no reply to ${command[0]} within ${timeoutMs} ms`)));
    socket.on('error', (error) => fail(new BenchConnectionError(`${host}:${port}: ${error.message}`)));
    socket.on('data', (chunk: Buffer) => {
      input = input.length === 0 ? chunk : Buffer.concat([input, chunk]);
      let decoded;
      try {
        decoded = decodeResp(input);
      } catch (error) {
        fail(error as Error);
        return;
      }
      if (decoded === undefined) return;
      socket.destroy();
      resolve(decoded.value);
    });
    socket.write(encodeCommand(command));
  });
}

class Connection implements ReplySink {
  readonly socket: net.Socket;
  private readonly scanner: ReplyScanner;
  /** Outstanding requests, oldest at `head`; at most `capacity` (the pipeline depth). */
  private readonly kinds: Uint8Array;
  private readonly keys: Float64Array;
  private readonly sentAt: Float64Array;
  private readonly requestBytes: Float64Array;
  private readonly redirects: Uint8Array;
  private head = 0;
  count = 0;
  private out: Buffer | undefined;
  private outLength = 0;
  private connected = false;

  constructor(
    private readonly client: BenchClient,
    readonly host: string,
    readonly port: number,
    readonly address: string,
    private readonly capacity: number,
  ) {
    this.kinds = new Uint8Array(capacity);
    this.keys = new Float64Array(capacity);
    this.sentAt = new Float64Array(capacity);
    this.requestBytes = new Float64Array(capacity);
    this.redirects = new Uint8Array(capacity);
    this.scanner = new ReplyScanner(this);
    // Writes made before the connection is up are queued by the socket itself. Replies are
    // read into one buffer per connection (`onread`), not a new Buffer and a stream 'data'
    // event per read: the scanner is done with the bytes before the callback returns.
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: (size, buffer) => this.onData(buffer, size) },
    });
    this.socket.on('connect', () => {
      this.connected = true;
    });
    this.socket.on('error', (error) => client.fail(new BenchConnectionError(`${address}: ${error.message}`)));
    this.socket.on('close', () => {
      if (!client.finished) client.fail(new BenchConnectionError(`${address}: connection closed by the server`));
    });
  }

  whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Appends one request to this turn's write and to the outstanding queue. */
  enqueue(kind: number, keyIndex: number, sentAt: number, redirects: number): void {
    const encoder = this.client.encoder;
    const bytesMax = kind === KIND_SET ? encoder.setBytesMax : encoder.getBytesMax;
    if (this.out === undefined || this.outLength + bytesMax > this.out.length) {
      this.flush();
      const room = this.capacity - this.count;
      this.out = Buffer.allocUnsafe(Math.max(bytesMax, Math.min(WRITE_CHUNK_BYTES, room * bytesMax)));
    }
    const start = this.outLength;
    this.outLength =
      kind === KIND_SET ? encoder.writeSet(this.out, start, keyIndex) : encoder.writeGet(this.out, start, keyIndex);
    let slot = this.head + this.count;
    if (slot >= this.capacity) slot -= this.capacity;
    this.kinds[slot] = kind;
    this.keys[slot] = keyIndex;
    this.sentAt[slot] = sentAt;
    this.requestBytes[slot] = this.outLength - start;
    this.redirects[slot] = redirects;
    this.count++;
  }

  flush(): void {
    if (this.out !== undefined && this.outLength > 0) {
      this.socket.write(this.out.subarray(0, this.outLength));
    }
    this.out = undefined;
    this.outLength = 0;
  }

  private onData(buffer: Uint8Array, size: number): boolean {
    const stats = this.client.stats;
    stats.now = performance.now();
    try {
      this.scanner.feed(buffer, size);
    } catch (error) {
      this.client.fail(new BenchConnectionError(`${this.address}: ${(error as Error).message}`));
      return false;
    }
    this.client.afterReplies();
    return true;
  }

  onReply(kind: ReplyKind, sizeBytes: number, errorText: string | undefined): void {
    if (this.count === 0) {
      this.client.fail(new BenchConnectionError(`${this.address}: a reply arrived with no request outstanding`));
      return;
    }
    const slot = this.head;
    this.head = slot + 1 === this.capacity ? 0 : slot + 1;
    this.count--;
    const requestKind = this.kinds[slot] as number;
    const stats = this.client.stats;
    const counters = requestKind === KIND_SET ? stats.sets : stats.gets;

    if (kind === ReplyKind.error && errorText !== undefined) {
      const moved = this.client.clusterMode ? parseMoved(errorText, this.host) : undefined;
      if (moved !== undefined) {
        counters.moved++;
        const redirects = (this.redirects[slot] as number) + 1;
        if (redirects <= REDIRECTS_MAX) {
          this.client.redirect(moved.slot, moved.host, moved.port, requestKind, this.keys[slot] as number, this.sentAt[slot] as number, redirects);
          return;
        }
        errorText = `${errorText} (given up after ${REDIRECTS_MAX} redirects)`;
      } else if (errorText.startsWith('ASK ')) {
        counters.ask++;
      }
      counters.errors++;
      stats.recordError(this.address, errorText);
    }

    let latencyUs = Math.round((stats.now - (this.sentAt[slot] as number)) * 1000);
    if (latencyUs > LATENCY_US_MAX) latencyUs = LATENCY_US_MAX;
    else if (latencyUs < 0) latencyUs = 0;
    stats.latencyUsSum += latencyUs;
    counters.ops++;
    counters.bytes += (this.requestBytes[slot] as number) + sizeBytes;
    if (requestKind === KIND_SET) {
      stats.setRecorder.record(latencyUs);
    } else {
      stats.getRecorder.record(latencyUs);
      // As memtier: a GET is a hit when a value came back; anything else (nil, error) a miss.
      if (kind === ReplyKind.bulk) counters.hits++;
      else counters.misses++;
    }
    this.client.completed++;
  }

  close(): void {
    this.socket.end();
  }
}

interface PendingRequest {
  readonly kind: number;
  readonly keyIndex: number;
  readonly sentAt: number;
  readonly redirects: number;
}

export interface ClientEvents {
  /** The client has received a final reply for every request it had to send. */
  onDone(client: BenchClient): void;
  onFail(error: Error): void;
}

export class BenchClient {
  readonly encoder: RequestEncoder;
  readonly clusterMode: boolean;
  private readonly keys: KeyGenerator;
  private readonly ratio: RatioCycle;
  private readonly slotter: KeySlotter | undefined;
  private readonly slotMap = new SlotMap();
  /** Connections by node number of `slotMap`; exactly one outside cluster mode. */
  private readonly connections: (Connection | undefined)[] = [];
  /**
   * Requests to send before any new one: redirected requests, and one that found its connection
   * full. Bounded by construction: a redirect replaces an outstanding request (at most
   * `pipeline` per connection) and at most one new request is held back at a time.
   */
  private readonly pending: PendingRequest[] = [];
  private generated = 0;
  completed = 0;
  finished = false;
  private failed = false;
  private startedAt = 0;
  private refreshing = false;

  constructor(
    private readonly options: BenchOptions,
    readonly stats: WorkerStats,
    clientIndex: number,
    clientCount: number,
    private readonly events: ClientEvents,
  ) {
    this.encoder = new RequestEncoder(options.keyPrefix, options.dataSizeBytes);
    this.clusterMode = options.clusterMode;
    this.slotter = options.clusterMode ? new KeySlotter(options.keyPrefix) : undefined;
    const seed = options.distinctClientSeed ? options.randomSeed + clientIndex : options.randomSeed;
    this.keys = new KeyGenerator(options, clientIndex, clientCount, seed);
    this.ratio = new RatioCycle(options.ratio.sets, options.ratio.gets);
  }

  /** Opens the connections (after CLUSTER SLOTS in cluster mode); resolves when all are up. */
  async connect(): Promise<void> {
    if (this.clusterMode) {
      const reply = await queryOnce(this.options.server, this.options.port, ['CLUSTER', 'SLOTS']);
      this.applySlots(parseClusterSlots(reply, this.options.server));
    } else {
      this.connectionFor(this.slotMap.nodeOf(this.options.server, this.options.port));
    }
    await Promise.all(this.connections.map((c) => c?.whenConnected()));
  }

  /** `now` is the common start of all clients, from which --test-time counts. */
  start(now: number): void {
    this.startedAt = now;
    // Clients of a thread start one after another: time each first write when it happens.
    this.stats.now = performance.now();
    this.pump();
  }

  /** Called after every data event: top the pipelines up, or finish. */
  afterReplies(): void {
    if (this.failed) return;
    this.pump();
  }

  private mayGenerate(): boolean {
    if (this.options.requests > 0 && this.generated >= this.options.requests) return false;
    if (this.options.testTimeSeconds > 0 && this.stats.now - this.startedAt >= this.options.testTimeSeconds * 1000) return false;
    return true;
  }

  private pump(): void {
    const now = this.stats.now;
    for (;;) {
      const held = this.pending[0];
      if (held !== undefined) {
        const connection = this.route(held.keyIndex);
        if (connection.full) break;
        this.pending.shift();
        // A redirected request keeps its first send time; one held back while its connection
        // was full is timed from now, when it is really sent, as memtier times it.
        connection.enqueue(held.kind, held.keyIndex, held.redirects > 0 ? held.sentAt : now, held.redirects);
        continue;
      }
      // Outside cluster mode there is one connection: check it before choosing a key, so that
      // the common path allocates nothing.
      if (this.slotter === undefined && (this.connections[0] as Connection).full) break;
      if (!this.mayGenerate()) break;
      const kind = this.ratio.nextIsSet() ? KIND_SET : KIND_GET;
      const keyIndex = kind === KIND_SET ? this.keys.nextSetKey() : this.keys.nextGetKey();
      this.generated++;
      const connection = this.route(keyIndex);
      if (connection.full) {
        this.pending.push({ kind, keyIndex, sentAt: now, redirects: 0 });
        break;
      }
      connection.enqueue(kind, keyIndex, now, 0);
    }
    let outstanding = this.pending.length;
    for (const connection of this.connections) {
      if (connection === undefined) continue;
      connection.flush();
      outstanding += connection.count;
    }
    if (outstanding === 0 && !this.mayGenerate()) this.finish();
  }

  private route(keyIndex: number): Connection {
    if (this.slotter === undefined) return this.connections[0] as Connection;
    let node = this.slotMap.owner(this.slotter.slotOf(keyIndex));
    // A slot nobody claims goes to the first master; its -MOVED will put us right.
    if (node === SlotMap.NO_NODE) node = 0;
    return this.connectionFor(node);
  }

  private connectionFor(node: number): Connection {
    let connection = this.connections[node];
    if (connection === undefined) {
      const address = this.slotMap.address(node);
      const { host, port } = splitAddress(address);
      connection = new Connection(this, host, port, address, this.options.pipeline);
      this.connections[node] = connection;
    }
    return connection;
  }

  private applySlots(ranges: readonly SlotRange[]): void {
    this.slotMap.replace(ranges);
    for (const range of ranges) this.connectionFor(this.slotMap.nodeOf(range.host, range.port));
  }

  /** A -MOVED reply: re-route the slot, queue the request again, and refresh the slot map. */
  redirect(slot: number, host: string, port: number, kind: number, keyIndex: number, sentAt: number, redirects: number): void {
    const node = this.slotMap.nodeOf(host, port);
    this.slotMap.assign(slot, node);
    this.connectionFor(node);
    this.pending.push({ kind, keyIndex, sentAt, redirects });
    if (!this.refreshing) {
      this.refreshing = true;
      queryOnce(host, port, ['CLUSTER', 'SLOTS']).then(
        (reply) => {
          this.refreshing = false;
          if (this.finished || this.failed) return;
          try {
            this.applySlots(parseClusterSlots(reply, host));
          } catch {
            // The redirect target cannot describe the cluster (a plain Redis, or a node in the
            // middle of an election): the per-slot MOVED updates keep the run going.
          }
        },
        () => {
          this.refreshing = false;
        },
      );
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const connection of this.connections) connection?.close();
    this.events.onDone(this);
  }

  fail(error: Error): void {
    if (this.failed || this.finished) return;
    this.failed = true;
    for (const connection of this.connections) connection?.socket.destroy();
    this.events.onFail(error);
  }
}
