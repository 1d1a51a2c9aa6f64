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
 */
import type { ClientId, DedupKey } from "../../../services/raft/ClientId.js"
import { autoClientId } from "../../../services/raft/ClientId.js"
import type { CommandEntry, LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"

// Read once: every property read of a `Data.taggedEnum` builds a fresh constructor.
const ClientIdReminted = RaftTraceEvent.ClientIdReminted
import type { RaftCore } from "./RaftCore.js"

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
 * Answers `origin` from the cache when its key is known; returns true if it did (nothing may be
 * appended then).
 */
export const absorb = (core: RaftCore, key: DedupKey, origin: ProposalOrigin): boolean => {
  const cache = core.dedup
  const done = cache.committedEntry(key)
  if (done !== undefined) {
    answer(core, origin, done)
    return true
  }
  const index = cache.inFlightIndex(key)
  if (index === undefined) return false
  const list = cache.attached.get(index)
  if (list === undefined) cache.attached.set(index, [origin])
  else list.push(origin)
  return true
}

/** The leader appended `entry` for a new key. */
export const noteAppended = (core: RaftCore, entry: CommandEntry): void => {
  core.dedup.noteInFlight(entry.dedupKey, entry.index)
}

/**
 * A new leader inherits an uncommitted suffix that will commit through its no-op (a leader never
 * truncates its own log): retries of those keys attach instead of appending again.
 */
export const onBecomeLeader = (core: RaftCore): void => {
  core.dedup.clear()
  for (const e of core.log.range(core.commitIndex + 1, core.log.lastIndex)) {
    if (e._tag === "Command") noteAppended(core, e)
  }
}

/** The leader committed `entry`: record it and answer the retries attached to it. */
export const recordCommitted = (core: RaftCore, entry: CommandEntry): void => {
  const cache = core.dedup
  cache.remember(entry)
  const waiting = cache.attached.get(entry.index)
  if (waiting === undefined) return
  cache.attached.delete(entry.index)
  for (const origin of waiting) answer(core, origin, entry)
}

const answer = (core: RaftCore, origin: ProposalOrigin, entry: CommandEntry): void => {
  if ("local" in origin) {
    core.ready.resolutions.push({ handle: origin.local, outcome: { _tag: "Proposed", entry } })
  } else {
    core.send(origin.from, {
      _tag: "ForwardResponse",
      clientRequestId: origin.clientRequestId,
      outcome: { _tag: "Committed", index: entry.index, term: entry.term }
    })
  }
}

/** Leaving leadership: attached retries learn the leader is gone, and the cache is dropped. */
export const abandon = (core: RaftCore, why: string): void => {
  for (const [, origins] of core.dedup.attached) {
    for (const origin of origins) {
      if ("local" in origin) {
        core.ready.resolutions.push({ handle: origin.local, outcome: { _tag: "LeadershipLost", reason: why } })
      } else {
        core.send(origin.from, { _tag: "ForwardResponse", clientRequestId: origin.clientRequestId, outcome: { _tag: "NotLeader" } })
      }
    }
  }
  core.dedup.clear()
}

/** The caller of `handle` gave up: stop answering its attached retry. */
export const cancel = (core: RaftCore, handle: number): void => {
  for (const [index, origins] of core.dedup.attached) {
    const i = origins.findIndex((o) => "local" in o && o.local === handle)
    if (i < 0) continue
    origins.splice(i, 1)
    if (origins.length === 0) core.dedup.attached.delete(index)
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

/**
 * Whether this node knows every committed request under its client id: it has emitted everything
 * committed, up to an entry of the current term (so its leader had committed its own no-op, which
 * orders it after every entry any earlier leader committed, §5.4.2). Latched per incarnation.
 */
export const historyKnown = (core: RaftCore): boolean => {
  const d = core.collisions
  if (d.knownThrough !== undefined) return true
  if (core.role !== "Leader" && core.leader === undefined) return false
  if (core.log.termAt(core.commitIndex) !== core.term || core.lastEmitted < core.commitIndex) return false
  d.knownThrough = core.log.lastIndex
  return true
}

/**
 * The highest request id under `core.clientId` in the restored log: a durable id's automatic
 * serial continues above it after a restart instead of reusing (and thereby losing) requests.
 */
export const highestOwnSerial = (core: RaftCore): number => {
  let max = 0
  for (const e of core.log.range(core.log.snapshotIndex + 1, core.log.lastIndex)) {
    if (e._tag === "Command" && e.dedupKey.clientId === core.clientId && e.dedupKey.requestId > max) {
      max = e.dedupKey.requestId
    }
  }
  return max
}

/** Checks a newly committed entry for a second writer under our client id (or adopts it as history). */
export const checkCollision = (core: RaftCore, entry: LogEntry): void => {
  if (entry._tag !== "Command") return
  const d = core.collisions
  const key = entry.dedupKey
  if (key.clientId !== core.clientId || key.requestId <= core.serial) return
  if (d.knownThrough === undefined || entry.index <= d.knownThrough || entry.term <= d.startTerm) {
    // History (an earlier holder of the id, or our previous incarnation): continue above it.
    core.serial = key.requestId
    return
  }
  switch (d.identity) {
    case "Durable":
      d.fatal = core.clientId
      return
    case "Auto": {
      const previous = core.clientId
      core.clientId = mintAutoId(core)
      core.serial = 0
      core.trace(ClientIdReminted({ at: core.now, node: core.id, previous, next: core.clientId }))
      return
    }
  }
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0")

/** `auto:<family>-<16 hex>`, the same shape the shell mints at start-up (`autoClientId`). */
export const mintAutoId = (core: RaftCore): ClientId =>
  autoClientId(core.id, `${hex8(core.rng.nextU32())}${hex8(core.rng.nextU32())}`)
