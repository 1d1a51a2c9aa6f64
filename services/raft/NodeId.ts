/**
 * Raft node identity. Must be stable across restarts (§5.2: a vote is given to an id); a node
 * that lost its storage must come back under a NEW id through a membership change.
 */
import { Schema } from "effect"
import { idProblem, MAX_ID_BYTES } from "../IdLimit.js"

/**
 * A schema for an identifier: 1..`MAX_ID_BYTES` bytes of well-formed UTF-8 (the one id limit of
 * `services/IdLimit.ts`, shared by Schema, wire and storage).
 */
export const IdString = (identifier: string) =>
  Schema.String.pipe(
    Schema.filter((s) => {
      const p = idProblem(s)
      return p === undefined ? true : `${identifier} ${p}`
    })
  ).annotations({
    identifier,
    arbitrary: () => (fc) => fc.string({ minLength: 1, maxLength: 40 })
  })

export const NodeId = IdString("NodeId").pipe(Schema.brand("NodeId"))
export type NodeId = typeof NodeId.Type

export { MAX_ID_BYTES }

/** Brands a string as a `NodeId`; throws on an empty, over-long or ill-formed string (a programming error). */
export const nodeId = (s: string): NodeId => NodeId.make(s)
