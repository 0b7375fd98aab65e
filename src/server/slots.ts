// Redis Cluster's key → hash slot mapping (CRC16/XMODEM of the key, or of its {hash tag}, mod
// 16384). raftis has one shard, so every slot belongs to the leader; the mapping is still what
// CLUSTER KEYSLOT answers and what a -MOVED reply names, so cluster clients stay consistent.

export const SLOT_COUNT = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let k = start; k < end; k++) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ (bytes[k] as number)) & 0xff] as number);
  return crc;
}

/** The slot of `key`, honouring a non-empty {hash tag} as Redis does. */
export function keySlot(key: Uint8Array): number {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(key, open + 1, close) % SLOT_COUNT;
  }
  return crc16(key) % SLOT_COUNT;
}
