/**
 * Client identity for exactly-once proposals (thesis §6.3, original §8). Every proposal carries a
 * `DedupKey(clientId, requestId)` stamped by the proposing node; the consumer's
 * `ClientSessionTable` applies each key at most once. The rule automatic ids follow
 * (`auto:<family>-<16 hex>`) belongs to the core that mints them (`src/raft/core/Ids.ts`).
 */
import { Data, Schema } from "effect"
import type { Branded } from "./NodeId.js"
import { IdString } from "./NodeId.js"

/** A client id: 1..255 bytes of well-formed UTF-8, like every identifier (`services/IdLimit.ts`). */
export type ClientId = Branded<"ClientId">
export const ClientId = IdString<ClientId>("ClientId")

/** A proposal's end-to-end identity: the client plus a per-client, monotonic request serial. */
export const DedupKey = Schema.Struct({
  clientId: ClientId,
  requestId: Schema.Number.pipe(Schema.int(), Schema.nonNegative())
})
export type DedupKey = typeof DedupKey.Type

/** Two dedup keys name the same request. */
export const sameDedupKey = (a: DedupKey, b: DedupKey): boolean =>
  a.clientId === b.clientId && a.requestId === b.requestId

/**
 * How a node obtains its client id. `Auto`: a fresh id per incarnation drawn from `Random`
 * (re-minted if another writer is seen using it). `Durable`: a caller-supplied id that survives
 * restarts (enables caller-pinned `requestId` retries; a second live writer is fatal).
 */
export type ClientIdentity = Data.TaggedEnum<{
  Auto: {}
  Durable: { readonly clientId: ClientId }
}>
export const ClientIdentity = Data.taggedEnum<ClientIdentity>()
