/**
 * Identities the core deals in, as plain types: node ids, client ids and the dedup key of a
 * proposal (thesis §6.3), and the rule an automatic client id follows. The public Schemas
 * (`services/raft/NodeId.ts`, `services/raft/ClientId.ts`) produce exactly these types, so values
 * cross between the core and the API unchanged (test/raft/core/plain-types.test.ts checks it).
 *
 * Brands are plain string-keyed marker properties: a `NodeId` is a string the API has checked
 * against the one id limit (1..255 bytes of well-formed UTF-8, `services/IdLimit.ts`); the core
 * never checks ids, it only keeps them apart from other strings at compile time.
 */

/** A Raft node's id (§5.2: stable across restarts). */
export type NodeId = string & { readonly "kuilt/brand": "NodeId" }

/** A proposer's client id (thesis §6.3). */
export type ClientId = string & { readonly "kuilt/brand": "ClientId" }

/** A proposal's end-to-end identity: the client plus a per-client, monotonic request serial. */
export interface DedupKey {
  readonly clientId: ClientId
  readonly requestId: number
}

/** The longest id in UTF-8 bytes: the one id limit of `services/IdLimit.ts` (the same number). */
export const MAX_ID_BYTES = 255

/** Prefix of automatic client ids: `auto:<family>-<16 hex>`. */
export const AUTO_PREFIX = "auto:"

/** Bytes an auto id adds around its family: the prefix, the dash and 16 hex digits. */
const AUTO_OVERHEAD = AUTO_PREFIX.length + 1 + 16

const utf8 = new TextEncoder()

/** UTF-8 length of a string (ASCII fast path: ids are nearly always ASCII). */
export const utf8Length = (s: string): number => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return utf8.encode(s).byteLength
  return s.length
}

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
export const autoFamily = (id: string): string | undefined => {
  if (!id.startsWith(AUTO_PREFIX)) return undefined
  const dash = id.lastIndexOf("-")
  return dash > AUTO_PREFIX.length ? id.slice(AUTO_PREFIX.length, dash) : undefined
}
