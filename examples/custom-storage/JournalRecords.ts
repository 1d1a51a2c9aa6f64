/**
 * What `KeyValueRaftStorage` writes into the key-value store, as JSON Schemas: a journal record
 * (one engine turn's `WriteBatch`) and a checkpoint (the whole durable state). Bytes travel as
 * base64; cluster configurations as voter and learner lists.
 *
 * Decoding doubles as the integrity check: a value that does not decode (a torn write, a foreign
 * value) is refused, never half-read.
 */
import { DedupKey, Index, Members, NodeId, Term } from "kuilt"
import type { DurableState, LogEntry, WriteBatch } from "kuilt"
import { Schema } from "effect"

const Bytes = Schema.Uint8ArrayFromBase64

/** A configuration's members (plain sets of ids) as two JSON lists. */
const JsonMembers = Schema.transform(
  Schema.Struct({ voters: Schema.Array(NodeId), learners: Schema.Array(NodeId) }),
  Schema.typeSchema(Members),
  {
    strict: true,
    decode: (m) => ({ voters: new Set(m.voters), learners: new Set(m.learners) }),
    encode: (m) => ({ voters: [...m.voters], learners: [...m.learners] })
  }
)

/** A config entry's payload: `old` present for the joint configuration. */
const JsonConfigPayload = Schema.Struct({ old: Schema.optionalWith(JsonMembers, { exact: true }), new: JsonMembers })

const JsonEntry = Schema.Union(
  Schema.TaggedStruct("Command", { index: Index, term: Term, command: Bytes, dedupKey: DedupKey }),
  Schema.TaggedStruct("NoOp", { index: Index, term: Term }),
  Schema.TaggedStruct("Config", { index: Index, term: Term, config: JsonConfigPayload })
)

const JsonHardState = Schema.Struct({ term: Term, votedFor: Schema.NullOr(NodeId) })
const JsonLeaderForTerm = Schema.Struct({ term: Term, leaderId: NodeId })
const JsonSnapshot = Schema.Struct({
  meta: Schema.Struct({ lastIncludedIndex: Index, lastIncludedTerm: Term, config: JsonConfigPayload }),
  state: Bytes
})

/** One `write` call: the batch, numbered by its place in the journal. */
export const JournalRecord = Schema.parseJson(Schema.Struct({
  seq: Schema.Number,
  batch: Schema.Struct({
    snapshot: Schema.optionalWith(JsonSnapshot, { exact: true }),
    truncateFrom: Schema.optionalWith(Schema.Number, { exact: true }),
    append: Schema.optionalWith(Schema.Array(JsonEntry), { exact: true }),
    hardState: Schema.optionalWith(JsonHardState, { exact: true }),
    leaderForTerm: Schema.optionalWith(JsonLeaderForTerm, { exact: true }),
    discardThrough: Schema.optionalWith(Schema.Number, { exact: true })
  })
}))
export type JournalRecord = { readonly seq: number; readonly batch: WriteBatch }

/**
 * The whole durable state after journal record `throughSeq`. `log` is every stored entry, which
 * may start at or below the snapshot (entries the engine has not discarded yet are still readable).
 */
export const Checkpoint = Schema.parseJson(Schema.Struct({
  throughSeq: Schema.Number,
  hardState: JsonHardState,
  leaderForTerm: Schema.NullOr(JsonLeaderForTerm),
  snapshot: Schema.NullOr(JsonSnapshot),
  log: Schema.Array(JsonEntry)
}))
export interface Checkpoint extends Omit<DurableState, "entries"> {
  readonly throughSeq: number
  readonly log: ReadonlyArray<LogEntry>
}
