// Differential: the RESP wire protocol, raw bytes against redis-server and raftis, compared byte
// for byte until each server closes the connection (cases in helpers/cases-protocol.ts). Proves
// the request parser's quirks, protocol errors, limits and connection closing match Redis 7.0.
import { PROTOCOL_CASES } from './helpers/cases-protocol.js';
import { describeDifferential } from './helpers/suite.js';

describeDifferential('differential: protocol', PROTOCOL_CASES);
