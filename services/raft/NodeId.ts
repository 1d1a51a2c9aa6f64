/**
 * Raft node identity. Must be stable across restarts (§5.2: a vote is given to an id); a node
 * that lost its storage must come back under a NEW id through a membership change.
 *
 * The type is a string with a plain marker property (`"kuilt/brand"`), the same type the Raft
 * core declares for itself (`src/raft/core/Ids.ts`), so ids cross between the API and the core
 * unchanged.
 */
import { Schema } from "effect"
import { idProblem, MAX_ID_BYTES } from "../IdLimit.js"

/** A string branded `Name` with a plain marker property. */
export type Branded<Name extends string> = string & { readonly "kuilt/brand": Name }

/**
 * A schema for an identifier branded `A`: 1..`MAX_ID_BYTES` bytes of well-formed UTF-8 (the one
 * id limit of `services/IdLimit.ts`, shared by Schema, wire and storage). `make` checks and throws.
 */
export const IdString = <A extends string>(identifier: string) =>
  Schema.String.pipe(
    Schema.filter((s): s is A => idProblem(s) === undefined, {
      identifier,
      message: (issue) => `${identifier} ${idProblem(issue.actual) ?? "is not a valid identifier"}`,
      arbitrary: () => (fc) => fc.string({ minLength: 1, maxLength: 40 }).map((s) => s as A)
    })
  )

export type NodeId = Branded<"NodeId">
export const NodeId = IdString<NodeId>("NodeId")

export { MAX_ID_BYTES }

/** Brands a string as a `NodeId`; throws on an empty, over-long or ill-formed string (a programming error). */
export const nodeId = (s: string): NodeId => NodeId.make(s)
