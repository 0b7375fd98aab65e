// Proves the pieces of `raftis cli` and `raftis status` that need no server: the reply printer
// reproduces redis-cli 7.0's terminal format (expected strings copied from redis-cli's output:
// nested arrays with aligned indexes, (nil), (error), (integer), quoted strings with C escapes,
// RESP3 maps and sets) and its raw format; the decoder reads back everything the server's own
// encoder writes, in RESP2 and RESP3, including replies split at every byte; and `raftis status`
// reads INFO raft and renders its table with the leader marked and lag taken from the leader's
// view. test/integration/ops-redis.test.ts compares the printer with redis-cli itself.

import { describe, expect, it } from 'vitest';
import { encodeReply } from '../../src/resp/encoder.js';
import { array, bulkText, error, integer, NULL, NULL_ARRAY, OK, simple, verbatimText } from '../../src/resp/replies.js';
import type { Reply } from '../../src/resp/reply.js';
import {
  decodeReply, formatCliOutput, formatReplyRaw, formatReplyTty, printsRaw, quoteBytes, ReplyDecodeError,
} from '../../src/cli/commands/cli.js';
import {
  formatStatusTable, lagOf, parsePeerLine, parseRaftReport, type ClusterStatus, type MemberStatus, type NodeReport,
} from '../../src/cli/commands/status.js';

describe('the redis-cli reply printer', () => {
  it.each<[string, Reply, string]>([
    ['a status', OK, 'OK\n'],
    ['an integer', integer(1), '(integer) 1\n'],
    ['a negative big integer', integer(-9007199254740993n), '(integer) -9007199254740993\n'],
    ['a bulk string', bulkText('value'), '"value"\n'],
    ['a nil', NULL, '(nil)\n'],
    ['a nil array', NULL_ARRAY, '(nil)\n'],
    ['an error', error('ERR unknown command \'foo\', with args beginning with: '), '(error) ERR unknown command \'foo\', with args beginning with: \n'],
    ['an empty array', array([]), '(empty array)\n'],
    ['a double', { kind: 'double', value: '1.5' }, '(double) 1.5\n'],
    ['a boolean', { kind: 'boolean', value: true }, '(true)\n'],
    ['verbatim text', verbatimText('# Keyspace\r\n'), '# Keyspace\r\n\n'],
    ['an empty map', { kind: 'map', value: [] }, '(empty hash)\n'],
    ['an empty set', { kind: 'set', value: [] }, '(empty set)\n'],
  ])('prints %s as redis-cli does', (_what, reply, expected) => {
    expect(formatReplyTty(reply)).toBe(expected);
  });

  it('numbers array elements and nil entries', () => {
    expect(formatReplyTty(array([bulkText('2'), NULL]))).toBe('1) "2"\n2) (nil)\n');
  });

  it('indents nested arrays under their index, simple strings unquoted (COMMAND GETKEYSANDFLAGS SET a b)', () => {
    const reply = array([array([bulkText('a'), array([simple('OW'), simple('update')])])]);
    expect(formatReplyTty(reply)).toBe('1) 1) "a"\n   2) 1) OW\n      2) update\n');
  });

  it('right-aligns indexes to the widest one and indents nested elements past it', () => {
    const twelve = array(Array.from({ length: 12 }, (_, k) => (k === 10 ? array([integer(1), integer(2)]) : bulkText(String(k)))));
    const lines = formatReplyTty(twelve).split('\n');
    expect(lines.slice(0, 2)).toEqual([' 1) "0"', ' 2) "1"']);
    expect(lines.slice(9, 13)).toEqual(['10) "9"', '11) 1) (integer) 1', '    2) (integer) 2', '12) "11"']);
  });

  it('prints RESP3 maps as "N# key => value" and sets with "~"', () => {
    const hello: Reply = { kind: 'map', value: [[bulkText('server'), bulkText('redis')], [bulkText('proto'), integer(3)], [bulkText('modules'), array([])]] };
    expect(formatReplyTty(hello)).toBe('1# "server" => "redis"\n2# "proto" => (integer) 3\n3# "modules" => (empty array)\n');
    expect(formatReplyTty({ kind: 'set', value: [bulkText('a'), bulkText('b')] })).toBe('1~ "a"\n2~ "b"\n');
    // A value of several lines starts on its own line; a one-line aggregate stays on the key's line.
    const nested: Reply = { kind: 'map', value: [[bulkText('k'), array([bulkText('x'), bulkText('y')])], [bulkText('one'), array([bulkText('z')])]] };
    expect(formatReplyTty(nested)).toBe('1# "k" => \n   1) "x"\n   2) "y"\n2# "one" => 1) "z"\n');
  });

  it('quotes bytes as redis-cli\'s sdscatrepr does', () => {
    expect(quoteBytes(Buffer.from('a\\nb"c'))).toBe('"a\\\\nb\\"c"');
    expect(quoteBytes(Buffer.from('h\u00e9llo', 'utf8'))).toBe('"h\\xc3\\xa9llo"');
    expect(quoteBytes(Buffer.from([0x0a, 0x0d, 0x09, 0x07, 0x08, 0x00, 0x7f, 0x20, 0x7e]))).toBe('"\\n\\r\\t\\a\\b\\x00\\x7f ~"');
  });

  it('prints raw replies for INFO, CLUSTER NODES/INFO and CLIENT LIST/INFO, and everything with --raw', () => {
    expect(printsRaw(['INFO'])).toBe(true);
    expect(printsRaw(['info', 'raft'])).toBe(true);
    expect(printsRaw(['CLUSTER', 'NODES'])).toBe(true);
    expect(printsRaw(['cluster', 'info'])).toBe(true);
    expect(printsRaw(['CLUSTER', 'SLOTS'])).toBe(false);
    expect(printsRaw(['client', 'LIST'])).toBe(true);
    expect(printsRaw(['GET', 'info'])).toBe(false);
    expect(formatCliOutput(bulkText('# Raft\r\nraft_role:leader\r\n'), ['INFO', 'raft'], false)).toBe('# Raft\r\nraft_role:leader\r\n');
    expect(formatCliOutput(error('NOAUTH Authentication required.'), ['INFO'], false)).toBe('NOAUTH Authentication required.\n');
    expect(formatCliOutput(array([bulkText('a'), NULL, integer(3)]), ['MGET'], true)).toBe('a\n\n3\n');
    expect(formatReplyRaw({ kind: 'map', value: [[bulkText('maxclients'), bulkText('10000')]] })).toBe('maxclients 10000');
  });
});

describe('the reply decoder', () => {
  const samples: Reply[] = [
    OK, error('ERR boom'), integer(42), integer(-7), bulkText(''), bulkText('bin\r\nary'), NULL, NULL_ARRAY, array([]),
    array([integer(1), array([bulkText('x'), NULL]), simple('QUEUED')]),
    { kind: 'map', value: [[bulkText('a'), integer(1)], [bulkText('b'), array([bulkText('c')])]] },
    { kind: 'set', value: [bulkText('m')] },
    { kind: 'double', value: '3.25' },
    { kind: 'boolean', value: false },
    verbatimText('line\r\n'),
  ];

  it.each([2, 3] as const)('reads back what the server encodes in RESP%d, even split at every byte', (version) => {
    for (const reply of samples) {
      const bytes = encodeReply(reply, version);
      const decoded = decodeReply(bytes);
      expect(decoded?.end).toBe(bytes.length);
      // Re-encoding what was decoded gives the same bytes: nothing was lost or changed.
      expect(encodeReply(decoded!.reply, version).equals(bytes)).toBe(true);
      for (let cut = 0; cut < bytes.length; cut++) expect(decodeReply(bytes.subarray(0, cut))).toBeUndefined();
    }
  });

  it('decodes several pipelined replies one after another', () => {
    const bytes = Buffer.from('+OK\r\n:5\r\n$3\r\nabc\r\n');
    const first = decodeReply(bytes)!;
    const second = decodeReply(bytes, first.end)!;
    const third = decodeReply(bytes, second.end)!;
    expect([first.reply, second.reply, third.reply]).toEqual([OK, integer(5), bulkText('abc')]);
    expect(third.end).toBe(bytes.length);
  });

  it('skips RESP3 attributes, reads big numbers and blob errors', () => {
    expect(decodeReply(Buffer.from('|1\r\n+ttl\r\n:3\r\n:9\r\n'))?.reply).toEqual(integer(9));
    expect(decodeReply(Buffer.from('(123456789012345678901234567890\r\n'))?.reply).toEqual({ kind: 'integer', value: 123456789012345678901234567890n });
    expect(decodeReply(Buffer.from('!9\r\nERR oops!\r\n'))?.reply).toEqual(error('ERR oops!'));
  });

  it('refuses bytes that are not RESP', () => {
    expect(() => decodeReply(Buffer.from('?what\r\n'))).toThrow(ReplyDecodeError);
    expect(() => decodeReply(Buffer.from(':12a\r\n'))).toThrow(ReplyDecodeError);
  });
});

describe('raftis status', () => {
  const leaderInfo = [
    '# Raft', 'raft_node_id:1', 'raft_cluster_id:raftis', 'raft_state:up', 'raft_role:leader', 'raft_is_voting:yes',
    'raft_leader_id:1', 'raft_current_term:4', 'raft_num_nodes:3', 'raft_num_voting_nodes:3',
    'raft_node1:id=2,addr=127.0.0.2,port=7002,voting=yes,match_index=120,connection=connected',
    'raft_node2:id=3,addr=127.0.0.3,port=7003,voting=no,match_index=100,connection=backoff',
    'raft_log_entries:25', 'raft_current_index:125', 'raft_commit_index:124', 'raft_last_applied_index:124', '',
  ].join('\r\n');

  it('reads INFO raft', () => {
    const report = parseRaftReport(leaderInfo);
    expect(report).toMatchObject({ id: 1, role: 'leader', state: 'up', leaderId: 1, term: 4, logEntries: 25, lastIndex: 125, commitIndex: 124, appliedIndex: 124, voting: true });
    expect(report.peers).toEqual([
      { id: 2, host: '127.0.0.2', port: 7002, voting: true, matchIndex: 120, connection: 'connected' },
      { id: 3, host: '127.0.0.3', port: 7003, voting: false, matchIndex: 100, connection: 'backoff' },
    ]);
    expect(() => parseRaftReport('# Raft\r\nraft_role:leader\r\n')).toThrow(/raft_node_id/);
    expect(parsePeerLine('garbage')).toBeUndefined();
  });

  it('prints one row per member, the leader marked, lag from the leader\'s match indexes, down members as down', () => {
    const leader: MemberStatus = { id: 1, host: '127.0.0.1', port: 7001, report: parseRaftReport(leaderInfo) };
    const follower: NodeReport = { ...parseRaftReport(leaderInfo), id: 2, role: 'follower', peers: [], lastIndex: 121, logEntries: 21, commitIndex: 120, appliedIndex: 119 };
    const status: ClusterStatus = {
      members: [leader, { id: 2, host: '127.0.0.2', port: 7002, report: follower }, { id: 3, host: '127.0.0.3', port: 7003, report: undefined, failure: 'refused' }],
      leader,
    };
    expect(lagOf(status.members[1]!, leader)).toBe(5);
    expect(formatStatusTable(status)).toBe([
      '   ID  ADDRESS         ROLE      VOTER  TERM  LOG  LAST  COMMIT  APPLIED  LAG',
      '*  1   127.0.0.1:7001  leader    yes    4     25   125   124     124      0',
      '   2   127.0.0.2:7002  follower  yes    4     21   121   120     119      5',
      '   3   127.0.0.3:7003  down      -      -     -    -     -       -        25',
      '',
      'leader: node 1 at 127.0.0.1:7001, term 4; 2 of 3 nodes answering',
      '',
    ].join('\n'));
  });

  it('says so when there is no leader, and shows no lag', () => {
    const lonely: MemberStatus = { id: 2, host: 'h', port: 1, report: { ...parseRaftReport(leaderInfo), id: 2, role: 'candidate', leaderId: -1 } };
    expect(formatStatusTable({ members: [lonely], leader: undefined })).toBe([
      '   ID  ADDRESS  ROLE       VOTER  TERM  LOG  LAST  COMMIT  APPLIED  LAG',
      '   2   h:1      candidate  yes    4     25   125   124     124      -',
      '',
      'no leader; 1 of 1 nodes answering',
      '',
    ].join('\n'));
  });
});
