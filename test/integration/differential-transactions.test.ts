// Differential: transactions cases (helpers/cases-transactions.ts) against redis-server and raftis, every reply
// compared byte for byte except the documented ALLOWED_DIFFERENCES (helpers/differential.ts).
import { TRANSACTION_CASES } from './helpers/cases-transactions.js';
import { describeDifferential } from './helpers/suite.js';

describeDifferential('differential: transactions', TRANSACTION_CASES);
