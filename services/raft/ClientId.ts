/**
 * Client identity for exactly-once proposals (thesis §6.3, original §8). Every proposal carries a
 * `DedupKey(clientId, requestId)` stamped by the proposing node; the consumer's
 * `ClientSessionTable` applies each key at most once.
 */
import { Data, Schema } from "effect"
import { MAX_ID_BYTES, utf8Length } from "../IdLimit.js"
import { IdString } from "./NodeId.js"

/** A client id: 1..255 bytes of well-formed UTF-8, like every identifier (`services/IdLimit.ts`). */
export const ClientId = IdString("ClientId").pipe(Schema.brand("ClientId"))
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

/** Prefix of auto-minted ids: `auto:<family>-<16 hex>`. */
export const AUTO_PREFIX = "auto:"

/** Bytes an auto id adds around its family: the prefix, the dash and 16 hex digits. */
const AUTO_OVERHEAD = AUTO_PREFIX.length + 1 + 16

/** FNV-1a over the UTF-16 units of `s`, with two offsets: 16 hex digits. */
const hash64 = (s: string): string => {
  let a = 0x811c9dc5
  let b = 0x050c5d1f
  for (let i = 0; i < s.length; i++) {
    a = Math.imul(a ^ s.charCodeAt(i), 0x01000193)
    b = Math.imul(b ^ s.charCodeAt(i), 0x01000193)
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")
}

/**
 * The family of `nodeId`'s auto ids: the node id itself when the whole auto id stays within the
 * id limit, else `#` and a hash of it (stable across incarnations, so a restarted node's new auto
 * id still supersedes its old ones in a `ClientSessionTable`).
 */
export const autoFamilyOf = (nodeId: string): string =>
  utf8Length(nodeId) + AUTO_OVERHEAD <= MAX_ID_BYTES ? nodeId : `#${hash64(nodeId)}`

/**
 * An auto client id for `nodeId` with the random part `hex16` (16 hex digits):
 * `auto:<family>-<hex16>`, never longer than the id limit whatever the node id.
 */
export const autoClientId = (nodeId: string, hex16: string): ClientId =>
  `${AUTO_PREFIX}${autoFamilyOf(nodeId)}-${hex16}` as ClientId

/** The node family of an auto id (for supersession pruning), or undefined for a durable id. */
export const autoFamily = (id: ClientId): string | undefined => {
  if (!id.startsWith(AUTO_PREFIX)) return undefined
  const dash = id.lastIndexOf("-")
  return dash > AUTO_PREFIX.length ? id.slice(AUTO_PREFIX.length, dash) : undefined
}
