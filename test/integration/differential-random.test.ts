// Differential: seeded random command sequences (helpers/random-commands.ts) over every command
// raftis supports, on two connections taking turns with pipelined batches and transactions,
// against redis-server and raftis, compared byte for byte except the documented
// ALLOWED_DIFFERENCES. Each case is named by its seed; RAFTIS_DIFF_SEED=<n> runs that seed alone
// and RAFTIS_DIFF_SEEDS=<count> runs more of them.
import { describeDifferential } from './helpers/suite.js';
import { randomCase } from './helpers/random-commands.js';

const single = process.env['RAFTIS_DIFF_SEED'];
const count = Number(process.env['RAFTIS_DIFF_SEEDS'] ?? 40);
const seeds = single !== undefined ? [Number(single)] : Array.from({ length: count }, (_, index) => index + 1);

describeDifferential('differential: random sequences', seeds.map((seed) => randomCase(seed, 60)));
