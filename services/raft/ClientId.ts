/**
 * Client identity for exactly-once proposals (thesis §6.3, original §8). Every proposal carries a
 * `DedupKey(clientId, requestId)` stamped by the proposing node; the consumer's
 * `ClientSessionTable` applies each key at most once.
 */
import { Data, Schema } from "effect"

export const ClientId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255), Schema.brand("ClientId"))
export type ClientId = typeof ClientId.Type

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

/** Prefix of auto-minted ids: `auto:<nodeId>-<16 hex>`. */
export const AUTO_PREFIX = "auto:"

/** The node family of an auto id (for supersession pruning), or undefined for a durable id. */
export const autoFamily = (id: ClientId): string | undefined => {
  if (!id.startsWith(AUTO_PREFIX)) return undefined
  const dash = id.lastIndexOf("-")
  return dash > AUTO_PREFIX.length ? id.slice(AUTO_PREFIX.length, dash) : undefined
}
