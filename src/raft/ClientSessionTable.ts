/**
 * The authoritative exactly-once filter for a consumer's state machine (thesis §6.3, original §8).
 *
 * The consumer owns it, calls `shouldApply(entry.dedupKey)` for every committed command in log
 * order, and carries it inside its own snapshot (`toBytes`/`fromBytes`), so replicas that apply
 * the same log make the same decisions. It keeps a high-water mark per client, not a set: a
 * client's requests must commit in order (a retry reuses its request id; a new request uses a
 * larger one). Bounding: recording an `auto:` id evicts the other ids of the same node family
 * (that node restarted and minted a new id), durable ids live until `closeSession`. There is
 * deliberately no idle TTL: no setting is both safe and necessary (original design note).
 */
import { Either, Schema } from "effect"
import { ClientId } from "../../services/raft/ClientId.js"
import { autoFamily } from "./core/Ids.js"
import type { DedupKey } from "../../services/raft/ClientId.js"

const Encoded = Schema.parseJson(Schema.Struct({
  marks: Schema.Array(Schema.Tuple(ClientId, Schema.Number.pipe(Schema.int(), Schema.nonNegative())))
}))
const encode = Schema.encodeSync(Encoded)
const decode = Schema.decodeUnknownEither(Encoded)
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

/** `fromBytes` got bytes that are not a serialised table. */
export class ClientSessionTableDecodeError extends Schema.TaggedError<ClientSessionTableDecodeError>()(
  "ClientSessionTableDecodeError",
  { reason: Schema.String }
) {}

export class ClientSessionTable {
  private readonly marks: Map<ClientId, number>
  /** auto family → the auto ids of that family currently held. */
  private readonly families = new Map<string, Set<ClientId>>()

  private constructor(entries: Iterable<readonly [ClientId, number]>) {
    this.marks = new Map()
    for (const [id, mark] of entries) this.set(id, mark)
  }

  static empty(): ClientSessionTable {
    return new ClientSessionTable([])
  }

  /**
   * Decides whether a committed command applies, and records it if so. A command without a key
   * always applies; otherwise only a request id above the client's high-water mark does.
   */
  shouldApply(key: DedupKey | undefined): boolean {
    if (key === undefined) return true
    const mark = this.marks.get(key.clientId)
    if (mark !== undefined && key.requestId <= mark) return false
    this.set(key.clientId, key.requestId)
    return true
  }

  /** The highest applied request id of `clientId`, if the table knows the client. */
  highWaterMark(clientId: ClientId): number | undefined {
    return this.marks.get(clientId)
  }

  /** Forgets a client (it promised never to retry); a later request starts from scratch. */
  closeSession(clientId: ClientId): void {
    this.marks.delete(clientId)
    const family = autoFamily(clientId)
    if (family !== undefined) this.families.get(family)?.delete(clientId)
  }

  /** Number of clients tracked. */
  get size(): number {
    return this.marks.size
  }

  /** Serialises the table for the consumer's snapshot (deterministic: sorted by client id). */
  toBytes(): Uint8Array {
    const marks = [...this.marks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return utf8.encode(encode({ marks }))
  }

  static fromBytes(bytes: Uint8Array): Either.Either<ClientSessionTable, ClientSessionTableDecodeError> {
    let text: string
    try {
      text = fromUtf8.decode(bytes)
    } catch {
      return Either.left(new ClientSessionTableDecodeError({ reason: "not UTF-8" }))
    }
    return Either.match(decode(text), {
      onLeft: (e) => Either.left(new ClientSessionTableDecodeError({ reason: e.message })),
      onRight: (v) => Either.right(new ClientSessionTable(v.marks))
    })
  }

  private set(id: ClientId, mark: number): void {
    const family = autoFamily(id)
    if (family !== undefined) {
      let ids = this.families.get(family)
      if (ids === undefined) {
        ids = new Set()
        this.families.set(family, ids)
      }
      if (!ids.has(id)) {
        // Supersession: a new auto id of this node means its previous incarnations are gone.
        for (const old of ids) this.marks.delete(old)
        ids.clear()
        ids.add(id)
      }
    }
    this.marks.set(id, mark)
  }
}
