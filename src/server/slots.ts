// Redis Cluster's key → hash slot mapping (CRC16/XMODEM of the key, or of its {hash tag}, mod
// 16384). raftis has one shard, so every slot belongs to the leader; the mapping is still what
// CLUSTER KEYSLOT answers and what a -MOVED reply names, so cluster clients stay consistent.

export const SLOT_COUNT = 16384;

/** CRC16/XMODEM lookup table (polynomial 0x1021). */
export const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** CRC16/XMODEM (initial 0), continued from `crc` over bytes [start, end). */
export function crc16(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  let value = crc;
  for (let k = start; k < end; k++) value = ((value << 8) & 0xffff) ^ (CRC16_TABLE[((value >>> 8) ^ (bytes[k] as number)) & 0xff] as number);
  return value;
}

/** The slot of `key`, honouring a non-empty {hash tag} as Redis does. */
export function keySlot(key: Uint8Array): number {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(key, 0, open + 1, close) % SLOT_COUNT;
  }
  return crc16(key) % SLOT_COUNT;
}
