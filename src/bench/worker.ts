// One benchmark thread (memtier's -t): runs `clients` BenchClients on its own event loop. The
// main thread starts it, waits for every worker's "ready" (all connections up), then sends "go"
// to all at once so that no thread's run includes another's connection setup. Progress is
// published through a SharedArrayBuffer a few times a second; the final counters and HDR
// histograms come back in one "done" message.

import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { BenchClient, WorkerStats } from './client.js';
import { encodeHistogram } from './stats.js';
import {
  PROGRESS_BYTES,
  PROGRESS_FINISHED,
  PROGRESS_LATENCY_US_SUM,
  PROGRESS_OPS,
  PROGRESS_SLOTS,
  type MainMessage,
  type WorkerInput,
  type WorkerMessage,
} from './worker-protocol.js';

const PROGRESS_INTERVAL_MS = 200;

function epochMs(now: number): number {
  return performance.timeOrigin + now;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('bench worker started outside a worker thread');
  const input = workerData as WorkerInput;
  const progress = new Float64Array(input.progress, input.workerIndex * PROGRESS_SLOTS * 8, PROGRESS_SLOTS);
  const stats = new WorkerStats();
  const post = (message: WorkerMessage) => port.postMessage(message);

  let remaining = input.options.clients;
  let failed = false;
  let startMs = 0;
  let timer: NodeJS.Timeout | undefined;
  const publish = () => {
    progress[PROGRESS_OPS] = stats.sets.ops + stats.gets.ops;
    progress[PROGRESS_BYTES] = stats.sets.bytes + stats.gets.bytes;
    progress[PROGRESS_LATENCY_US_SUM] = stats.latencyUsSum;
  };
  const clients: BenchClient[] = [];
  const events = {
    onDone: () => {
      if (--remaining > 0 || failed) return;
      const endMs = epochMs(performance.now());
      if (timer !== undefined) clearInterval(timer);
      publish();
      progress[PROGRESS_FINISHED] = 1;
      stats.flush();
      post({
        type: 'done',
        output: {
          sets: stats.sets,
          gets: stats.gets,
          setHistogram: encodeHistogram(stats.setRecorder.histogram),
          getHistogram: encodeHistogram(stats.getRecorder.histogram),
          startMs,
          endMs,
          errorSamples: stats.errorSamples,
        },
      });
      port.close();
    },
    onFail: (error: Error) => {
      if (failed) return;
      failed = true;
      if (timer !== undefined) clearInterval(timer);
      for (const client of clients) client.fail(error);
      post({ type: 'error', message: error.message });
      port.close();
    },
  };
  for (let i = 0; i < input.options.clients; i++) {
    clients.push(new BenchClient(input.options, stats, input.clientIndexBase + i, input.clientCount, events));
  }
  try {
    await Promise.all(clients.map((client) => client.connect()));
  } catch (error) {
    events.onFail(error as Error);
    return;
  }
  port.once('message', (message: MainMessage) => {
    if (message.type !== 'go' || failed) return;
    const now = performance.now();
    startMs = epochMs(now);
    timer = setInterval(publish, PROGRESS_INTERVAL_MS);
    for (const client of clients) client.start(now);
  });
  post({ type: 'ready' });
}

await main();
