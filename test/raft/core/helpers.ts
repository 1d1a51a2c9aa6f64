/**
 * Shared helpers for the core rule tests: cluster construction, hand-made log entries and frames
 * for `inject`, and the global safety checks (one leader per term, committed prefixes agree).
 */
import { expect } from "@effect/vitest"
import type { AppendEntries, RaftMessage } from "../../../src/codec/raft/RaftMessage.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { LogEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftConfig } from "../../../services/raft/RaftConfig.js"
import type { RaftCore } from "../../../src/raft/core/RaftCore.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"
import type { CoreClusterOptions, SentMessage } from "../../../src/testing/CoreCluster.js"

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)
export const nid = (s: string): NodeId => s as NodeId

export const names = (n: number): Array<string> => Array.from({ length: n }, (_, i) => `n${i + 1}`)

/** A voters-only cluster of `n` nodes named n1..nN. */
export const voters = (
  n: number,
  options: Partial<Omit<CoreClusterOptions, "ids" | "bootstrap">> = {}
): CoreCluster => {
  const ids = names(n)
  return new CoreCluster({ ids, bootstrap: ClusterConfig.ofVoters(...ids), ...options })
}

/**
 * Nodes that never hear each other (every link cut): each behaves like a lone core whose inputs
 * are exactly the frames a test injects. Replies are still recorded in `sent`.
 */
export const detached = (ids: Array<string>, config: Partial<RaftConfig> = {}): CoreCluster => {
  const c = new CoreCluster({ ids, bootstrap: ClusterConfig.ofVoters(...ids), config })
  for (const id of ids) c.isolate(id)
  return c
}

/** Runs until exactly one leader exists (among `among`, if given) and returns it. */
export const awaitLeader = (c: CoreCluster, maxMs = 5000, among?: ReadonlyArray<string>): RaftCore => {
  const ok = c.advanceUntil(() => {
    const ls = c.leaders.filter((l) => among === undefined || among.includes(l.id))
    return ls.length === 1
  }, maxMs)
  if (!ok) throw new Error(`no leader within ${maxMs} ms`)
  return c.leaders.filter((l) => among === undefined || among.includes(l.id))[0]!
}

const testClient = "test:injector" as ClientId

export const noop = (index: number, term: number): LogEntry => ({ _tag: "NoOp", index, term })
export const cmd = (index: number, term: number, s = `c${index}`): LogEntry => ({
  _tag: "Command",
  index,
  term,
  command: bytes(s),
  dedupKey: { clientId: testClient, requestId: index }
})

export const append = (fields: Partial<AppendEntries> & { term: number }): RaftMessage => ({
  _tag: "AppendEntries",
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  leaderCommit: 0,
  round: 0,
  ...fields
})

/** The last message `from` sent to `to` with tag `tag` (throws if none). */
export const lastSent = <T extends RaftMessage["_tag"]>(
  c: CoreCluster,
  from: string,
  to: string,
  tag: T
): Extract<RaftMessage, { _tag: T }> => {
  const all = c.sent.filter((m) => m.from === from && m.to === to && m.message._tag === tag)
  if (all.length === 0) throw new Error(`${from} never sent ${tag} to ${to}`)
  return all[all.length - 1]!.message as Extract<RaftMessage, { _tag: T }>
}

export const sentWhere = (c: CoreCluster, p: (m: SentMessage) => boolean, since = 0): Array<SentMessage> =>
  c.sent.slice(since).filter(p)

/** Terms of a node's in-memory log, index 1..last. */
export const logTerms = (core: RaftCore): Array<number> => {
  const out: Array<number> = []
  for (let i = 1; i <= core.log.lastIndex; i++) out.push(core.log.termAt(i)!)
  return out
}

/** What a node has handed to its consumer, by index (a restart re-emits: the copies must agree). */
export const committedByIndex = (c: CoreCluster, id: string): Map<number, LogEntry> => {
  const out = new Map<number, LogEntry>()
  for (const e of c.committed.get(nid(id)) ?? []) {
    const seen = out.get(e.index)
    if (seen !== undefined) expect(sameEntry(seen, e), `${id} re-emitted a different entry at ${e.index}`).toBe(true)
    out.set(e.index, e)
  }
  return out
}

/** The committed commands of a node, as text, in index order. */
export const committedCommands = (c: CoreCluster, id: string): Array<string> =>
  [...committedByIndex(c, id).entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([, e]) => (e._tag === "Command" ? [text(e.command)] : []))

export const sameEntry = (a: LogEntry, b: LogEntry): boolean =>
  a._tag === b._tag &&
  a.index === b.index &&
  a.term === b.term &&
  (a._tag !== "Command" || (b._tag === "Command" && text(a.command) === text(b.command)))

/**
 * State Machine Safety: no two nodes ever handed different entries to their consumers at one
 * index, and each node's committed stream is gap-free from 1.
 */
export const expectCommittedAgree = (c: CoreCluster): void => {
  const global = new Map<number, LogEntry>()
  for (const id of c.options.ids) {
    const mine = committedByIndex(c, id)
    const indices = [...mine.keys()].sort((a, b) => a - b)
    indices.forEach((index, i) => expect(index, `${id} committed stream has a gap`).toBe(i + 1))
    for (const [index, e] of mine) {
      const other = global.get(index)
      if (other === undefined) global.set(index, e)
      else expect(sameEntry(other, e), `two different entries committed at ${index}`).toBe(true)
    }
  }
}

/** Election Safety over the whole run: term → the one node that became leader in it. */
export const leadersByTerm = (c: CoreCluster): Map<number, string> => {
  const out = new Map<number, string>()
  for (const e of c.tracesOf("BecomeLeader")) {
    const prior = out.get(e.term)
    if (prior !== undefined && prior !== e.node) throw new Error(`two leaders in term ${e.term}: ${prior} and ${e.node}`)
    out.set(e.term, e.node)
  }
  return out
}
