/**
 * Raft node identity. Must be stable across restarts (§5.2: a vote is given to an id); a node
 * that lost its storage must come back under a NEW id through a membership change.
 */
import { Schema } from "effect"

export const NodeId = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(255),
  Schema.brand("NodeId")
)
export type NodeId = typeof NodeId.Type

/** Brands a string as a `NodeId`; throws on an empty or over-long string (a programming error). */
export const nodeId = (s: string): NodeId => NodeId.make(s)
