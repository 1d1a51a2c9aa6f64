/**
 * Exactly-once proposals, leader side (thesis §6.3; original `LeaderDedupCache` and
 * `CollisionDetector`).
 *
 * The leader remembers, per `DedupKey`, the entry it committed for it and the index of any entry
 * still in flight. A propose or Forward whose key already committed is answered with the recorded
 * entry and appends nothing; a retry of a key still in flight attaches to that entry and is
 * answered when it commits. The cache is cleared on step-down: after a failover a retry can
 * append a second copy, which is why the consumer's `ClientSessionTable` remains the
 * authoritative filter.
 *
 * Collision detection runs on every node. A collision is two LIVE writers under one client id;
 * the evidence is a committed entry under this node's id that it did not issue (a request id
 * above its serial) and that was appended after this node learned the id's history — at an index
 * above `knownThrough` and a term above the one this incarnation started in. A `Durable` id makes
 * that fatal (`collisions.fatal`, surfaced as `ClientIdCollision`); an `Auto` id is re-minted from
 * the core's Prng with a fresh serial.
 *
 * Everything else under our id is history, and the serial adopts it: the previous incarnation's
 * proposals that commit after a restart, and — when a durable id MOVES to another node — the
 * old holder's requests, replayed to the new holder as it catches up. A `Durable` id's automatic
 * serials therefore wait until the history is known (`historyKnown`: the node holds and has
 * emitted everything committed up to an entry of the current leader's term), so the new holder's
 * first request id is above every request of the old one and no consumer's `ClientSessionTable`
 * mistakes it for a duplicate. Moving an id is safe once the old holder stopped writing; a write
 * by the old holder after the new one caught up is a collision.
 *
 * A leaf: the cache and the detector hold their own state and return decisions; the node
 * (`Proposals`, `LocalLog`, `Roles`) answers callers and applies them.
 */
import type { CommandEntry, LogEntry } from "./Entries.js"
import type { ClientId, DedupKey, NodeId } from "./Ids.js"
import { autoClientId } from "./Ids.js"
import type { Prng } from "./Prng.js"
import type { RaftLog } from "./RaftLog.js"


/** Who waits for a proposal: a local caller, or a peer's forward. */
export type ProposalOrigin = { readonly local: number } | { readonly from: NodeId; readonly clientRequestId: number }

/**
 * Committed keys kept before the oldest are forgotten. The original never evicts before a
 * step-down; a bound keeps a long leadership from growing without limit, at the price of a very
 * late retry appending again (which the `ClientSessionTable` then filters).
 */
export const MAX_CACHED_KEYS = 65_536

/** The keys of one client id: request ids committed (with their entry) and in flight (their index). */
class ClientKeys {
  constructor(readonly clientId: string) {}
  readonly committed = new Map<number, CommandEntry>()
  readonly inFlight = new Map<number, number>()
  /** The highest request id ever put in `committed`: a higher one is not there (no lookup). */
  maxCommitted = -1
}

/**
 * The leader's memory of keys it committed or is committing in its current term.
 *
 * Keyed by client id, then by request id (numbers): no key string is built and hashed per
 * proposal, and one proposer's keys sit in small maps. Committed keys are forgotten oldest first
 * (by first insertion, across all clients) beyond `MAX_CACHED_KEYS`, through a queue kept beside the
 * maps: evicting through a map's `keys().next()` is O(deleted slots) in V8, whose backing store
 * keeps the holes of evicted keys until it rehashes (that walk was 20% of a busy leader's time).
 */
export class LeaderDedupCache {
  private readonly clients = new Map<string, ClientKeys>()
  /** The last client looked up: nearly every proposal comes from the same one. */
  private lastId: string | undefined = undefined
  private last: ClientKeys | undefined = undefined
  /** Committed keys held, over all clients. */
  private committedCount = 0
  /** The eviction queue, oldest at `head`: each committed key's client and request id. */
  private queueKeys: Array<ClientKeys | undefined> = []
  private queueIds: Array<number> = []
  private head = 0
  /** Retries attached to an in-flight index, answered when it commits. */
  readonly attached = new Map<number, Array<ProposalOrigin>>()

  private keysOf(clientId: string, create: boolean): ClientKeys | undefined {
    if (clientId === this.lastId) return this.last
    let keys = this.clients.get(clientId)
    if (keys === undefined) {
      if (!create) return undefined
      keys = new ClientKeys(clientId)
      this.clients.set(clientId, keys)
    }
    this.lastId = clientId
    this.last = keys
    return keys
  }

  /** The entry committed for `key` in this term, if any. */
  committedEntry(key: DedupKey): CommandEntry | undefined {
    const keys = this.keysOf(key.clientId, false)
    // A fresh proposal's automatic serial is above every committed one: skip the big map.
    if (keys === undefined || key.requestId > keys.maxCommitted) return undefined
    return keys.committed.get(key.requestId)
  }

  /** The index of the entry in flight for `key`, if any. */
  inFlightIndex(key: DedupKey): number | undefined {
    return this.keysOf(key.clientId, false)?.inFlight.get(key.requestId)
  }

  /** `key` was appended at `index`. */
  noteInFlight(key: DedupKey, index: number): void {
    this.keysOf(key.clientId, true)!.inFlight.set(key.requestId, index)
  }

  /** `entry` committed: no longer in flight; remembered, evicting the oldest key beyond the bound. */
  remember(entry: CommandEntry): void {
    const key = entry.dedupKey
    const keys = this.keysOf(key.clientId, true)!
    keys.inFlight.delete(key.requestId)
    const before = keys.committed.size
    keys.committed.set(key.requestId, entry)
    if (key.requestId > keys.maxCommitted) keys.maxCommitted = key.requestId
    if (keys.committed.size > before) {
      // A new key (a re-set keeps its place in the eviction order, as a Map's insertion order would).
      this.queueKeys.push(keys)
      this.queueIds.push(key.requestId)
      this.committedCount++
    }
    if (this.committedCount > MAX_CACHED_KEYS) this.evictOldest()
  }

  private evictOldest(): void {
    // Keys leave `committed` only here and in `clear`, so the queue's head is always present.
    const keys = this.queueKeys[this.head]!
    keys.committed.delete(this.queueIds[this.head]!)
    this.committedCount--
    this.queueKeys[this.head++] = undefined
    if (keys.committed.size === 0 && keys.inFlight.size === 0) {
      this.clients.delete(keys.clientId)
      if (this.last === keys) {
        this.lastId = undefined
        this.last = undefined
      }
    }
    if (this.head >= 4096 && this.head * 2 >= this.queueKeys.length) {
      this.queueKeys = this.queueKeys.slice(this.head)
      this.queueIds = this.queueIds.slice(this.head)
      this.head = 0
    }
  }

  clear(): void {
    this.clients.clear()
    this.lastId = undefined
    this.last = undefined
    this.committedCount = 0
    this.queueKeys = []
    this.queueIds = []
    this.head = 0
    this.attached.clear()
  }
}

/**
 * What the cache knows of `key`, proposed by `origin`: the entry it committed for it (answer
 * `origin` with it), `true` when an entry for it is in flight (`origin` now waits for it, answered
 * by `recordCommitted`), `false` when it is new (append it). Nothing may be appended unless `false`.
 */
export const absorb = (cache: LeaderDedupCache, key: DedupKey, origin: ProposalOrigin): CommandEntry | boolean => {
  const done = cache.committedEntry(key)
  if (done !== undefined) return done
  const index = cache.inFlightIndex(key)
  if (index === undefined) return false
  const list = cache.attached.get(index)
  if (list === undefined) cache.attached.set(index, [origin])
  else list.push(origin)
  return true
}

/** The leader appended `entry` for a new key. */
export const noteAppended = (cache: LeaderDedupCache, entry: CommandEntry): void => {
  cache.noteInFlight(entry.dedupKey, entry.index)
}

/**
 * A new leader inherits an uncommitted suffix that will commit through its no-op (a leader never
 * truncates its own log): retries of those keys attach instead of appending again.
 */
export const onBecomeLeader = (cache: LeaderDedupCache, log: RaftLog, commitIndex: number): void => {
  cache.clear()
  for (const e of log.range(commitIndex + 1, log.lastIndex)) {
    if (e._tag === "Command") noteAppended(cache, e)
  }
}

/** The leader committed `entry`: record it; returns the retries attached to it (to answer with it). */
export const recordCommitted = (cache: LeaderDedupCache, entry: CommandEntry): ReadonlyArray<ProposalOrigin> | undefined => {
  cache.remember(entry)
  const waiting = cache.attached.get(entry.index)
  if (waiting === undefined) return undefined
  cache.attached.delete(entry.index)
  return waiting
}

/** Leaving leadership: drops the cache; returns every attached retry (they learn the leader is gone). */
export const abandon = (cache: LeaderDedupCache): ReadonlyArray<ProposalOrigin> => {
  const all: Array<ProposalOrigin> = []
  for (const [, origins] of cache.attached) for (const origin of origins) all.push(origin)
  cache.clear()
  return all
}

/** The caller of `handle` gave up: stop answering its attached retry. */
export const cancel = (cache: LeaderDedupCache, handle: number): void => {
  for (const [index, origins] of cache.attached) {
    const i = origins.findIndex((o) => "local" in o && o.local === handle)
    if (i < 0) continue
    origins.splice(i, 1)
    if (origins.length === 0) cache.attached.delete(index)
    return
  }
}

// ------------------------------------------------------------------ collision detection

/** How this node's client id came to be (a tagged choice, as `ClientIdentity`). */
export type IdentityKind = "Auto" | "Durable"

/** Collision-detector state of one incarnation. */
export class CollisionDetector {
  /** Set when a `Durable` id is found shared: the node must stop (fail-stop). */
  fatal: ClientId | undefined = undefined
  /**
   * The last index this node held when it learned its id's history: a foreign entry at or below
   * it is history. `undefined` while a `Durable` id's history is still being replayed; 0 for an
   * `Auto` id (fresh per incarnation: it has none).
   */
  knownThrough: number | undefined

  constructor(readonly identity: IdentityKind, readonly startTerm: number) {
    this.knownThrough = identity === "Auto" ? 0 : undefined
  }
}

/** What `historyKnown` reads of the node. */
export interface HistoryView {
  readonly role: string
  readonly leader: NodeId | undefined
  readonly term: number
  readonly commitIndex: number
  readonly lastEmitted: number
  readonly log: RaftLog
}

/**
 * Whether this node knows every committed request under its client id: it has emitted everything
 * committed, up to an entry of the current term (so its leader had committed its own no-op, which
 * orders it after every entry any earlier leader committed, §5.4.2). Latched per incarnation.
 */
export const historyKnown = (d: CollisionDetector, node: HistoryView): boolean => {
  if (d.knownThrough !== undefined) return true
  if (node.role !== "Leader" && node.leader === undefined) return false
  if (node.log.termAt(node.commitIndex) !== node.term || node.lastEmitted < node.commitIndex) return false
  d.knownThrough = node.log.lastIndex
  return true
}

/**
 * The highest request id under `clientId` in the restored log: a durable id's automatic serial
 * continues above it after a restart instead of reusing (and thereby losing) requests.
 */
export const highestOwnSerial = (log: RaftLog, clientId: ClientId): number => {
  let max = 0
  for (const e of log.range(log.snapshotIndex + 1, log.lastIndex)) {
    if (e._tag === "Command" && e.dedupKey.clientId === clientId && e.dedupKey.requestId > max) {
      max = e.dedupKey.requestId
    }
  }
  return max
}

/**
 * What a newly committed entry says about our client id (`clientId`, highest serial `serial`):
 * `History` (an earlier holder's or our previous incarnation's request: continue the serial above
 * it), `Fatal` (a second live writer under a `Durable` id: `d.fatal` is set), `Remint` (one under an
 * `Auto` id: mint a fresh one), or `undefined` (not ours, or issued by us).
 */
export const checkCollision = (
  d: CollisionDetector,
  clientId: ClientId,
  serial: number,
  entry: LogEntry
): "History" | "Fatal" | "Remint" | undefined => {
  if (entry._tag !== "Command") return undefined
  const key = entry.dedupKey
  if (key.clientId !== clientId || key.requestId <= serial) return undefined
  if (d.knownThrough === undefined || entry.index <= d.knownThrough || entry.term <= d.startTerm) return "History"
  switch (d.identity) {
    case "Durable":
      d.fatal = clientId
      return "Fatal"
    case "Auto":
      return "Remint"
  }
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0")

/** `auto:<family>-<16 hex>` for node `self`, drawn from `rng` (the same rule the shell mints with at start-up). */
export const mintAutoId = (self: NodeId, rng: Prng): ClientId =>
  autoClientId(self, `${hex8(rng.nextU32())}${hex8(rng.nextU32())}`)
