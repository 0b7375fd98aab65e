// The main thread of `raftis bench`: starts one worker thread per -t, releases them together,
// prints memtier's progress line about once a second, then merges the workers' counters and
// HDR histograms and prints the results (and writes the JSON file) as memtier does.

import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BenchConnectionError } from './client.js';
import type { BenchOptions } from './options.js';
import {
  addCounters,
  createLatencyHistogram,
  decodeHistogram,
  emptyCounters,
  formatLatencyDistribution,
  formatProgressLine,
  formatRunInformation,
  formatStatsTable,
  summarize,
  toMemtierJson,
  type BenchResult,
  type StatsRow,
} from './stats.js';
import {
  PROGRESS_BYTES,
  PROGRESS_FINISHED,
  PROGRESS_LATENCY_US_SUM,
  PROGRESS_OPS,
  PROGRESS_SLOTS,
  type MainMessage,
  type WorkerInput,
  type WorkerMessage,
  type WorkerOutput,
} from './worker-protocol.js';

export interface BenchIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const processIo: BenchIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export interface BenchReport {
  readonly result: BenchResult;
  readonly rows: readonly StatsRow[];
  /** Error replies seen (at most a few per thread), as printed on stderr. */
  readonly errorSamples: readonly string[];
  readonly errorCount: number;
}

const PROGRESS_INTERVAL_MS = 1_000;

/**
 * Starts the worker module next to this one: worker.js once compiled. Run from source (under
 * tsx), worker.ts needs tsx's loader inside the thread too, and Node 20 does not carry
 * `--import tsx` into workers, so a two-line bootstrap registers it first.
 */
function startWorker(input: WorkerInput): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: input });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const workerSource = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerSource)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: input });
}

class WorkerHandle {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly done: Promise<WorkerOutput>;

  constructor(input: WorkerInput) {
    this.worker = startWorker(input);
    let resolveReady!: () => void;
    let rejectReady!: (error: Error) => void;
    let resolveDone!: (output: WorkerOutput) => void;
    let rejectDone!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.done = new Promise((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    // Whoever is not waiting on a promise yet must not see it as an unhandled rejection.
    this.ready.catch(() => undefined);
    this.done.catch(() => undefined);
    const fail = (error: Error) => {
      rejectReady(error);
      rejectDone(error);
    };
    this.worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'ready':
          resolveReady();
          return;
        case 'done':
          resolveDone(message.output);
          return;
        case 'error':
          fail(new BenchConnectionError(message.message));
          return;
        default: {
          const unknown: never = message;
          fail(new Error(`unexpected worker message ${JSON.stringify(unknown)}`));
        }
      }
    });
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`bench worker exited (code ${code}) before reporting`)));
  }

  go(): void {
    const message: MainMessage = { type: 'go' };
    this.worker.postMessage(message);
  }
}

/** Merges the workers' outputs into one result. */
export function mergeOutputs(outputs: readonly WorkerOutput[]): BenchResult {
  const sets = { counters: emptyCounters(), histogram: createLatencyHistogram() };
  const gets = { counters: emptyCounters(), histogram: createLatencyHistogram() };
  let startMs = Number.POSITIVE_INFINITY;
  let endMs = 0;
  for (const output of outputs) {
    addCounters(sets.counters, output.sets);
    addCounters(gets.counters, output.gets);
    sets.histogram.add(decodeHistogram(output.setHistogram));
    gets.histogram.add(decodeHistogram(output.getHistogram));
    startMs = Math.min(startMs, output.startMs);
    endMs = Math.max(endMs, output.endMs);
  }
  if (outputs.length === 0) startMs = endMs;
  return { sets, gets, waits: { counters: emptyCounters(), histogram: createLatencyHistogram() }, startMs, endMs };
}

export async function runBench(options: BenchOptions, io: BenchIo = processIo): Promise<BenchReport> {
  const totalClients = options.clients * options.threads;
  const progress = new SharedArrayBuffer(options.threads * PROGRESS_SLOTS * 8);
  const slots = new Float64Array(progress);
  io.stderr('Writing results to stdout\n');
  io.stderr('[RUN #1] Preparing benchmark client...\n');
  const handles: WorkerHandle[] = [];
  for (let index = 0; index < options.threads; index++) {
    handles.push(
      new WorkerHandle({ options, workerIndex: index, clientIndexBase: index * options.clients, clientCount: totalClients, progress }),
    );
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.all(handles.map((h) => h.ready));
    io.stderr('[RUN #1] Launching threads now...\n');
    const startedAt = performance.now();
    for (const handle of handles) handle.go();

    let previous = { ops: 0, bytes: 0, latencyUsSum: 0, at: startedAt };
    let current = { opsPerSec: 0, bytesPerSec: 0, latencyMs: 0 };
    const report = () => {
      const now = performance.now();
      let ops = 0;
      let bytes = 0;
      let latencyUsSum = 0;
      let active = 0;
      for (let index = 0; index < options.threads; index++) {
        const base = index * PROGRESS_SLOTS;
        ops += slots[base + PROGRESS_OPS] as number;
        bytes += slots[base + PROGRESS_BYTES] as number;
        latencyUsSum += slots[base + PROGRESS_LATENCY_US_SUM] as number;
        if (slots[base + PROGRESS_FINISHED] !== 1) active++;
      }
      const elapsedMs = now - startedAt;
      const intervalMs = now - previous.at;
      if (intervalMs > 0 && active === options.threads) {
        const intervalOps = ops - previous.ops;
        current = {
          opsPerSec: (intervalOps / intervalMs) * 1000,
          bytesPerSec: ((bytes - previous.bytes) / intervalMs) * 1000,
          latencyMs: intervalOps > 0 ? (latencyUsSum - previous.latencyUsSum) / intervalOps / 1000 : 0,
        };
      }
      previous = { ops, bytes, latencyUsSum, at: now };
      const progressPercent =
        options.requests > 0
          ? (100 * ops) / (options.requests * totalClients)
          : (100 * elapsedMs) / 1000 / options.testTimeSeconds;
      io.stderr(
        formatProgressLine({
          runId: 1,
          progressPercent,
          elapsedSeconds: elapsedMs / 1000,
          activeThreads: active,
          totalOps: ops,
          currentOpsPerSec: current.opsPerSec,
          averageOpsPerSec: elapsedMs > 0 ? (ops / elapsedMs) * 1000 : 0,
          currentBytesPerSec: current.bytesPerSec,
          averageBytesPerSec: elapsedMs > 0 ? (bytes / elapsedMs) * 1000 : 0,
          currentLatencyMs: current.latencyMs,
          averageLatencyMs: ops > 0 ? latencyUsSum / ops / 1000 : 0,
        }) + '\r',
      );
    };
    timer = setInterval(report, PROGRESS_INTERVAL_MS);
    const outputs = await Promise.all(handles.map((h) => h.done));
    clearInterval(timer);
    timer = undefined;
    report();
    io.stderr('\n\n');

    const result = mergeOutputs(outputs);
    const rows = summarize(result, options.printPercentiles);
    let text = formatRunInformation(options);
    text += formatStatsTable(rows, { title: 'ALL STATS', clusterMode: options.clusterMode, percentiles: options.printPercentiles });
    if (!options.hideHistogram) text += formatLatencyDistribution(result);
    io.stdout(text);
    const errorSamples = outputs.flatMap((o) => o.errorSamples);
    const errorCount = result.sets.counters.errors + result.gets.counters.errors;
    for (const sample of errorSamples) io.stderr(`${sample}\n`);
    if (errorCount > errorSamples.length) io.stderr(`... ${errorCount - errorSamples.length} more error replies\n`);
    if (options.jsonOutFile !== undefined) {
      await writeFile(options.jsonOutFile, JSON.stringify(toMemtierJson(options, result), null, 2) + '\n');
    }
    return { result, rows, errorSamples, errorCount };
  } finally {
    if (timer !== undefined) clearInterval(timer);
    // Workers end on their own once their sockets close; a failed run must not wait for that.
    await Promise.all(handles.map((h) => h.worker.terminate()));
  }
}
