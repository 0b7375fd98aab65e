// Preloaded into a raftis node by bench/alloc-profile.ts (node --import). Starts V8's sampling
// heap profiler when the parent sends SIGUSR2, counting every sampled allocation whether or not the
// object is still alive later (a plain --heap-prof counts only the survivors, which hides garbage),
// and on the next SIGUSR2 writes the profile to $RAFTIS_ALLOC_PROFILE_DIR/alloc-<pid>.json.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import process from 'node:process';

const session = new Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    });
    return;
  }
  sampling = false;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    const dir = process.env.RAFTIS_ALLOC_PROFILE_DIR ?? '.';
    writeFileSync(path.join(dir, `alloc-${process.pid}.json`), error ? JSON.stringify({ error: String(error) }) : JSON.stringify(result.profile));
  });
});
