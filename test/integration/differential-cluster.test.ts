// Differential: the hand-written protocol, connection and transaction cases and a share of the
// seeded random sequences, against a real 3-node raftis cluster (every write through the Raft log,
// reads through ReadIndex, replies arriving asynchronously) and redis-server, compared byte for
// byte except the documented ALLOWED_DIFFERENCES. RAFTIS_DIFF_CLUSTER_SEEDS=<count> runs more
// random seeds.
import { CLUSTER_SUBJECT } from './helpers/cluster-target.js';
import { CONNECTION_CASES } from './helpers/cases-connection.js';
import { PROTOCOL_CASES } from './helpers/cases-protocol.js';
import { TRANSACTION_CASES } from './helpers/cases-transactions.js';
import { randomCase } from './helpers/random-commands.js';
import { describeDifferential } from './helpers/suite.js';

const seedCount = Number(process.env['RAFTIS_DIFF_CLUSTER_SEEDS'] ?? 10);

describeDifferential('differential (cluster): protocol', PROTOCOL_CASES, CLUSTER_SUBJECT);
describeDifferential('differential (cluster): connection', CONNECTION_CASES, CLUSTER_SUBJECT);
describeDifferential('differential (cluster): transactions', TRANSACTION_CASES, CLUSTER_SUBJECT);
describeDifferential('differential (cluster): random sequences', Array.from({ length: seedCount }, (_, index) => randomCase(index + 1, 60)), CLUSTER_SUBJECT);
