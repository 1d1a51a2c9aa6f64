/**
 * Small schedule-building helpers shared by the regression catalogue (on top of
 * `test/raft/core/helpers.ts`): explicit link surgery on a `CoreCluster`, forcing a chosen node into
 * leadership through a real leadership transfer, and a few whole-run safety checks.
 */
import { expect } from "@effect/vitest"
import type { RaftMessage } from "../../src/codec/raft/RaftMessage.js"
import type { Outcome } from "../../src/raft/core/Ready.js"
import type { CoreCluster, SentMessage } from "../../src/testing/CoreCluster.js"
import type { LogEntry } from "../../services/raft/LogEntry.js"
import { awaitLeader, committedByIndex, sameEntry } from "../raft/core/helpers.js"

/** Cuts both directions between `a` and each of `others`. */
export const sever = (c: CoreCluster, a: string, others: ReadonlyArray<string>): void => {
  for (const o of others) {
    c.cutLink(a, o)
    c.cutLink(o, a)
  }
}

/** Restores both directions between `a` and each of `others` (leaves every other cut in place). */
export const rejoin = (c: CoreCluster, a: string, others: ReadonlyArray<string>): void => {
  for (const o of others) {
    c.cut.delete(`${a}->${o}`)
    c.cut.delete(`${o}->${a}`)
  }
}

/**
 * Makes `id` the leader: waits for any leader, hands leadership to `id` through a real transfer
 * (thesis §3.10) when it is someone else, then lets the cluster settle so every node holds and
 * knows the committed prefix.
 */
export const makeLeader = (c: CoreCluster, id: string, settleMs = 120): void => {
  const first = awaitLeader(c)
  if (first.id !== id) {
    const h = c.transferLeadership(first.id, id)
    expect(c.advanceUntil(() => c.outcomes.has(h), 1000)).toBe(true)
    expect(c.outcomes.get(h)).toEqual({ _tag: "Transferred" })
  }
  expect(c.node(id).role).toBe("Leader")
  c.advance(settleMs)
  expect(c.node(id).role).toBe("Leader")
}

/** Runs until leader `id` has just sent a heartbeat, so a whole interval passes before its next one. */
export const justAfterHeartbeat = (c: CoreCluster, id: string): void => {
  const l = c.node(id)
  const interval = l.cfg.heartbeatInterval
  expect(c.advanceUntil(() => l.heartbeatDeadline - c.now === interval, 2 * interval)).toBe(true)
}

/** Runs until the outcome of `handle` is known; throws when it is not within `maxMs`. */
export const outcomeOf = (c: CoreCluster, handle: number, maxMs = 200): Outcome => {
  if (!c.advanceUntil(() => c.outcomes.has(handle), maxMs)) throw new Error(`no outcome for ${handle} within ${maxMs} ms`)
  return c.outcomes.get(handle)!
}

/** The index a committed proposal landed at (throws on any other outcome). */
export const proposedIndex = (o: Outcome | undefined): number => {
  if (o?._tag !== "Proposed") throw new Error(`expected Proposed, got ${JSON.stringify(o)}`)
  return o.entry.index
}

/** The index a read was answered with (throws on any other outcome). */
export const readIndexOf = (o: Outcome | undefined): number => {
  if (o?._tag !== "Read") throw new Error(`expected Read, got ${JSON.stringify(o)}`)
  return o.index
}

/** Messages `from` sent to `to` with tag `tag` since position `since` of `c.sent`. */
export const sentBetween = <T extends RaftMessage["_tag"]>(
  c: CoreCluster,
  since: number,
  from: string,
  to: string,
  tag: T
): Array<SentMessage & { readonly message: Extract<RaftMessage, { _tag: T }> }> =>
  c.sent.slice(since).filter((m): m is SentMessage & { readonly message: Extract<RaftMessage, { _tag: T }> } =>
    m.from === from && m.to === to && m.message._tag === tag
  )

/** Number of real elections (term bumps by a candidate) since trace position `since`. */
export const electionsSince = (c: CoreCluster, since = 0): number => c.tracesOf("Timeout", since).length

/**
 * State Machine Safety when snapshots are in play: no two nodes ever handed their consumers
 * different entries at one index (a node seeded by InstallSnapshot has no entries below it).
 */
export const expectNoConflictingCommits = (c: CoreCluster): void => {
  const global = new Map<number, LogEntry>()
  for (const id of c.ids) {
    for (const [index, e] of committedByIndex(c, id)) {
      const other = global.get(index)
      if (other === undefined) global.set(index, e)
      else expect(sameEntry(other, e), `two different entries committed at ${index}`).toBe(true)
    }
  }
}
