// Membership arithmetic and the encoding of a configuration inside a conf entry.
//
// A conf entry carries both the change (for the driver: whose address to learn, whom to drop)
// and, in its data, the whole configuration that results. A node replaying the log from the
// start (a new member catching up without a snapshot) never saw the bootstrap membership, so
// applying deltas alone would leave it with a wrong configuration; the full state makes every
// conf entry self-contained.
import type { ConfChange, ConfState } from './types.js';
import { assert } from './assert.js';

/** The configuration after applying `change` to `conf` (the change must be valid for it). */
export function nextConfState(conf: ConfState, change: ConfChange): ConfState {
  const { voters, learners, removed } = conf;
  const id = change.nodeId;
  switch (change.type) {
    case 'addLearner':
      return { voters, learners: [...learners, id], removed };
    case 'promote':
      return { voters: [...voters, id], learners: learners.filter((other) => other !== id), removed };
    case 'remove':
      return { voters: voters.filter((other) => other !== id), learners: learners.filter((other) => other !== id), removed: [...removed, id] };
  }
}

const VERSION = 1;

/** [version u8][voters u32][learners u32][removed u32] then the ids, u32 each, big-endian. */
export function encodeConfState(conf: ConfState): Uint8Array {
  const ids = [...conf.voters, ...conf.learners, ...conf.removed];
  const bytes = new Uint8Array(1 + 12 + 4 * ids.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, VERSION);
  view.setUint32(1, conf.voters.length);
  view.setUint32(5, conf.learners.length);
  view.setUint32(9, conf.removed.length);
  ids.forEach((id, k) => view.setUint32(13 + 4 * k, id));
  return bytes;
}

export function decodeConfState(bytes: Uint8Array): ConfState {
  assert(bytes.length >= 13, () => `conf state of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert(view.getUint8(0) === VERSION, () => `unknown conf state version ${view.getUint8(0)}`);
  const counts = [view.getUint32(1), view.getUint32(5), view.getUint32(9)] as const;
  assert(bytes.length === 13 + 4 * (counts[0] + counts[1] + counts[2]), () => `conf state length ${bytes.length} does not match its counts`);
  let offset = 13;
  const read = (count: number): number[] => {
    const ids: number[] = [];
    for (let k = 0; k < count; k++, offset += 4) ids.push(view.getUint32(offset));
    return ids;
  };
  return { voters: read(counts[0]), learners: read(counts[1]), removed: read(counts[2]) };
}
