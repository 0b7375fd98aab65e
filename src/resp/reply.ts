// A reply as the command layer produces it, before it is encoded for one client's protocol
// version (RESP2 or RESP3). The encoder in this folder turns it into bytes; Redis's own rules
// for how RESP3 types degrade in RESP2 (maps become flat arrays, doubles bulk strings, ...)
// live there and nowhere else.
//
// The strings of simple, error, double and verbatim-format replies are byte strings: each char is
// one byte, encoded as latin1. Build a message that echoes client bytes with
// `buf.toString('latin1')`, so that the client gets its own bytes back. Constructors and shared
// constants (OK, NULL, ...) are in replies.ts.

export type Reply =
  | { readonly kind: 'simple'; readonly value: string }
  /** `value` is the whole message after the dash, prefix included: "ERR wrong number ...". */
  | { readonly kind: 'error'; readonly value: string }
  | { readonly kind: 'integer'; readonly value: number | bigint }
  | { readonly kind: 'bulk'; readonly value: Buffer }
  /** A missing value: RESP2 `$-1`, RESP3 `_`. */
  | { readonly kind: 'null' }
  /** A missing aggregate: RESP2 `*-1`, RESP3 `_`. */
  | { readonly kind: 'nullArray' }
  | { readonly kind: 'array'; readonly value: readonly Reply[] }
  /** RESP3 `%`; RESP2 a flat array of key, value, key, value. */
  | { readonly kind: 'map'; readonly value: readonly (readonly [Reply, Reply])[] }
  /** RESP3 `~`; RESP2 an array. */
  | { readonly kind: 'set'; readonly value: readonly Reply[] }
  /** RESP3 `,`; RESP2 a bulk string. `value` is already formatted as Redis would. */
  | { readonly kind: 'double'; readonly value: string }
  /** RESP3 `#`; RESP2 the integer 1 or 0. */
  | { readonly kind: 'boolean'; readonly value: boolean }
  /** RESP3 `=`; RESP2 a bulk string. */
  | { readonly kind: 'verbatim'; readonly format: string; readonly value: Buffer }
  /** Bytes already encoded, identical in both protocol versions. */
  | { readonly kind: 'raw'; readonly value: Buffer };
