// Every fsync storage performs goes through here, so INFO can report how many there were and how
// long they took on average (the number that bounds write throughput), and /metrics their
// distribution (etcd's etcd_disk_wal_fsync_duration_seconds): a slow disk shows in its tail
// before it shows in the average.
import { performance } from 'node:perf_hooks';
import type { StorageFile, StorageFs } from './fs.js';

/**
 * Upper bounds of the fsync duration buckets, in seconds: etcd's (1 ms doubling to 8.192 s) with
 * three below 1 ms, where a local SSD's fsyncs fall.
 */
export const FSYNC_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, ...Array.from({ length: 14 }, (_, at) => 0.001 * 2 ** at),
];

export class SyncStats {
  count = 0;
  totalMicros = 0;
  /** Per bucket (not cumulative) counts; the last one is above the largest bound. */
  readonly buckets = new Float64Array(FSYNC_DURATION_BUCKETS.length + 1);

  async syncFile(file: StorageFile): Promise<void> {
    const start = performance.now();
    await file.sync();
    this.record(start);
  }

  async syncDir(fs: StorageFs, dir: string): Promise<void> {
    const start = performance.now();
    await fs.fsyncDir(dir);
    this.record(start);
  }

  get averageMicros(): number {
    return this.count === 0 ? 0 : this.totalMicros / this.count;
  }

  private record(startMs: number): void {
    const micros = (performance.now() - startMs) * 1000;
    this.count += 1;
    this.totalMicros += micros;
    const seconds = micros / 1e6;
    let bucket = 0;
    while (bucket < FSYNC_DURATION_BUCKETS.length && seconds > FSYNC_DURATION_BUCKETS[bucket]!) bucket++;
    this.buckets[bucket] = this.buckets[bucket]! + 1;
  }
}
