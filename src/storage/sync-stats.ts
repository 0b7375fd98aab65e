// Every fsync storage performs goes through here, so INFO can report how many there were and how
// long they took on average: the number that bounds write throughput.
import { performance } from 'node:perf_hooks';
import type { StorageFile, StorageFs } from './fs.js';

export class SyncStats {
  count = 0;
  totalMicros = 0;

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
    this.count += 1;
    this.totalMicros += (performance.now() - startMs) * 1000;
  }
}
