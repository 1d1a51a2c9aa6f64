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
 * Collision detection runs on every node: a committed entry under this node's own client id with
 * a request id above the highest serial this node issued means another live writer shares the id.
 * A `Durable` id makes that fatal (`collisions.fatal`, surfaced as `ClientIdCollision`); an `Auto`
 * id is re-minted from the core's Prng with a fresh serial. Only entries appended at a term above
 * the one this incarnation started in count as evidence: the previous incarnation's own proposals
 * may still commit after a restart and must not look like a second writer.
 */
import type { ClientId, DedupKey } from "../../../services/raft/ClientId.js"
import { AUTO_PREFIX } from "../../../services/raft/ClientId.js"
import type { CommandEntry, LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftCore } from "./RaftCore.js"

/** Who waits for a proposal: a local caller, or a peer's forward. */
export type ProposalOrigin = { readonly local: number } | { readonly from: NodeId; readonly clientRequestId: number }

/**
 * Committed keys kept before the oldest are forgotten. The original never evicts before a
 * step-down; a bound keeps a long leadership from growing without limit, at the price of a very
 * late retry appending again (which the `ClientSessionTable` then filters).
 */
export const MAX_CACHED_KEYS = 65_536

const keyOf = (k: DedupKey): string => `${k.requestId}\u0000${k.clientId}`

/** The leader's memory of keys it committed or is committing in its current term. */
export class LeaderDedupCache {
  readonly committed = new Map<string, CommandEntry>()
  readonly inFlight = new Map<string, number>()
  /** Retries attached to an in-flight index, answered when it commits. */
  readonly attached = new Map<number, Array<ProposalOrigin>>()

  clear(): void {
    this.committed.clear()
    this.inFlight.clear()
    this.attached.clear()
  }
}

/**
 * Answers `origin` from the cache when its key is known; returns true if it did (nothing may be
 * appended then).
 */
export const absorb = (core: RaftCore, key: DedupKey, origin: ProposalOrigin): boolean => {
  const cache = core.dedup
  const k = keyOf(key)
  const done = cache.committed.get(k)
  if (done !== undefined) {
    answer(core, origin, done)
    return true
  }
  const index = cache.inFlight.get(k)
  if (index === undefined) return false
  const list = cache.attached.get(index)
  if (list === undefined) cache.attached.set(index, [origin])
  else list.push(origin)
  return true
}

/** The leader appended `entry` for a new key. */
export const noteAppended = (core: RaftCore, entry: CommandEntry): void => {
  core.dedup.inFlight.set(keyOf(entry.dedupKey), entry.index)
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
  const k = keyOf(entry.dedupKey)
  cache.inFlight.delete(k)
  cache.committed.set(k, entry)
  if (cache.committed.size > MAX_CACHED_KEYS) cache.committed.delete(cache.committed.keys().next().value!)
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

  constructor(readonly identity: IdentityKind, readonly startTerm: number) {}
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

/** Checks a newly committed entry for a second writer under our client id. */
export const checkCollision = (core: RaftCore, entry: LogEntry): void => {
  if (entry._tag !== "Command") return
  const d = core.collisions
  const key = entry.dedupKey
  if (key.clientId !== core.clientId || key.requestId <= core.serial || entry.term <= d.startTerm) return
  switch (d.identity) {
    case "Durable":
      d.fatal = core.clientId
      return
    case "Auto": {
      const previous = core.clientId
      core.clientId = mintAutoId(core)
      core.serial = 0
      core.trace(RaftTraceEvent.ClientIdReminted({ at: core.now, node: core.id, previous, next: core.clientId }))
      return
    }
  }
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0")

/** `auto:<nodeId>-<16 hex>`, the same shape the shell mints at start-up. */
export const mintAutoId = (core: RaftCore): ClientId =>
  `${AUTO_PREFIX}${core.id}-${hex8(core.rng.nextU32())}${hex8(core.rng.nextU32())}` as ClientId
