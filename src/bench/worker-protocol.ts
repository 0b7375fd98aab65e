// The messages and shared-memory layout between the benchmark's main thread (runner.ts) and
// its worker threads (worker.ts). Kept apart from worker.ts, which runs on import.

import type { BenchOptions } from './options.js';
import type { CommandCounters } from './stats.js';

export interface WorkerInput {
  readonly options: BenchOptions;
  readonly workerIndex: number;
  /** Global index of this worker's first client, for key slices (P) and distinct seeds. */
  readonly clientIndexBase: number;
  readonly clientCount: number;
  /** PROGRESS_SLOTS doubles per worker, written by that worker only. */
  readonly progress: SharedArrayBuffer;
}

/** Layout of one worker's progress slots. */
export const PROGRESS_SLOTS = 4;
export const PROGRESS_OPS = 0;
export const PROGRESS_BYTES = 1;
export const PROGRESS_LATENCY_US_SUM = 2;
export const PROGRESS_FINISHED = 3;

export interface WorkerOutput {
  readonly sets: CommandCounters;
  readonly gets: CommandCounters;
  readonly setHistogram: string;
  readonly getHistogram: string;
  /** Epoch milliseconds, comparable across threads. */
  readonly startMs: number;
  readonly endMs: number;
  readonly errorSamples: readonly string[];
}

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly output: WorkerOutput }
  | { readonly type: 'error'; readonly message: string };

export type MainMessage = { readonly type: 'go' };
