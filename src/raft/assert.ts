// Invariant checks. A failed assertion is a bug in raftis, never an operating error: it throws
// an Error whose message starts with "raft assertion failed:" and nothing below the top level
// catches it. Callers split compound conditions so a failure names the part that broke.

export class RaftAssertionError extends Error {
  constructor(message: string) {
    super(`raft assertion failed: ${message}`);
    this.name = 'RaftAssertionError';
  }
}

export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new RaftAssertionError(typeof message === 'string' ? message : message());
}
