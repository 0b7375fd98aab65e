// Differential: connection cases (helpers/cases-connection.ts) against redis-server and raftis, every reply
// compared byte for byte except the documented ALLOWED_DIFFERENCES (helpers/differential.ts).
import { CONNECTION_CASES } from './helpers/cases-connection.js';
import { describeDifferential } from './helpers/suite.js';

describeDifferential('differential: connection', CONNECTION_CASES);
