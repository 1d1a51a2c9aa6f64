/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for the checksums SQL storage keeps beside every
 * row it writes. Node's native `zlib.crc32` (Node ≥ 20.15) is used when present — a snapshot can
 * be tens of MiB and the pure-JS loop would hold the event loop for milliseconds; the portable
 * implementation (`src/codec/Crc32.ts`) gives the same values on older runtimes.
 */
import * as zlib from "node:zlib"
import { crc32 as crc32Js } from "../../../../src/codec/Crc32.js"

const native = (zlib as { readonly crc32?: (data: Uint8Array, value?: number) => number }).crc32

/**
 * The CRC-32 of `bytes`, continuing from `seed` (the CRC of the bytes before them; 0 to start):
 * `crc32(b, crc32(a)) === crc32(a ++ b)`. An unsigned 32-bit integer.
 */
export const crc32 = (bytes: Uint8Array, seed = 0): number =>
  // An empty input leaves the CRC unchanged. It is not handed to zlib: an empty buffer with no
  // backing memory (as a driver may return for an empty BLOB) reaches zlib as a NULL pointer, and
  // zlib's `crc32(crc, NULL, 0)` returns 0 — its idiom for "the initial value".
  bytes.byteLength === 0 ? seed >>> 0 : native !== undefined ? native(bytes, seed) >>> 0 : crc32Js(bytes, seed)

/** The pure-JS implementation, exported so a test can check it against the native one. */
export const crc32Portable = crc32Js
