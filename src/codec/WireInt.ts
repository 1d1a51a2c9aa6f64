/**
 * Schemas for the integer fields a frame can carry, one per `BinaryWriter` integer encoding.
 *
 * Why not `Schema.Uint8` / `Schema.NonNegativeInt`: effect's `Uint8` accepts fractions, and
 * `NonNegativeInt` has no upper bound, so its `Arbitrary` stays below 2^31 and property tests
 * would never exercise the wide values. These schemas state the exact domain of the wire field,
 * and their arbitraries cover it up to the edges (e.g. 2^53−1).
 */
import { Schema } from "effect"

/** Largest integer a `uint53` / `varuint` field carries: 2^53−1 (`Number.MAX_SAFE_INTEGER`). */
export const MAX_UINT53 = Number.MAX_SAFE_INTEGER

/** An integer 0 … 255 (a `u8` field). */
export const U8 = Schema.Int.pipe(Schema.between(0, 0xff)).annotations({ identifier: "U8" })

/** An integer 0 … 65 535 (a `u16` field). */
export const U16 = Schema.Int.pipe(Schema.between(0, 0xffff)).annotations({ identifier: "U16" })

/** An integer 0 … 2^32−1 (a `u32` field). */
export const U32 = Schema.Int.pipe(Schema.between(0, 0xffff_ffff)).annotations({ identifier: "U32" })

/**
 * A safe non-negative integer 0 … 2^53−1 (a `uint53` or `varuint` field): Raft terms, indices,
 * sizes. The ceiling is the plausibility limit of every index and term (`Number.MAX_SAFE_INTEGER`).
 */
export const Uint53 = Schema.Int.pipe(Schema.between(0, MAX_UINT53)).annotations({ identifier: "Uint53" })
