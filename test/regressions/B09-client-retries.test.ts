/**
 * B9 — client retries re-execute non-idempotent commands.
 *
 * Real instance: etcd #14890 → #18424 (a retried request applied twice). A client that does not
 * hear back retries; if the first attempt committed, a naive state machine applies the command
 * twice (a double payment).
 *
 * Exactly-once here has two layers (thesis §6.3): the leader's dedup cache answers a retry of a
 * key it already committed in its term with the same entry and appends nothing; across a failover
 * a retry CAN commit a second copy in the log, and the consumer's `ClientSessionTable` — carried
 * inside its snapshots — is the authoritative filter. Scenarios (client = learner `l` with the
 * durable client id `client-l`, so it never becomes leader itself):
 *   1. "pay-10" (requestId 1) commits, the answer is lost, the leader crashes; the client retries
 *      through two more failovers; on every node the applied state holds "pay-10" once;
 *   2. a retry of a committed key on the same leader returns the same index, and the log holds
 *      the command once;
 *   3. the table survives compaction: a follower seeded by a snapshot taken after the first copy
 *      still refuses the second copy that commits after it.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import { committedIndex } from "../../services/raft/LogEntry.js"
import type { Committed } from "../../services/raft/LogEntry.js"
import { ClientSessionTable } from "../../src/raft/ClientSessionTable.js"
import { CoreCluster } from "../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, nid, text } from "../raft/core/helpers.js"
import { expectNoConflictingCommits, outcomeOf, proposedIndex } from "./scenario.js"

const client = { l: { clientId: "client-l", identity: "Durable" as const } }
const withClient = (seed: number) =>
  new CoreCluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed, clients: client })

/** A consumer: the applied commands, filtered by a ClientSessionTable; its snapshot carries both. */
interface Machine {
  table: ClientSessionTable
  commands: Array<string>
  applied: number
}

const encode = (m: Machine): Uint8Array => bytes(JSON.stringify({ table: text(m.table.toBytes()), commands: m.commands }))

const apply = (items: ReadonlyArray<Committed>, through = Infinity): Machine => {
  const m: Machine = { table: ClientSessionTable.empty(), commands: [], applied: 0 }
  for (const item of items) {
    const index = committedIndex(item)
    if (index <= m.applied || index > through) continue
    switch (item._tag) {
      case "Install": {
        const s = JSON.parse(text(item.snapshot.state)) as { table: string; commands: Array<string> }
        const restored = ClientSessionTable.fromBytes(bytes(s.table))
        if (restored._tag === "Left") throw restored.left
        m.table = restored.right
        m.commands = s.commands
        break
      }
      case "Entry":
        if (m.table.shouldApply(item.entry.dedupKey)) m.commands.push(text(item.entry.command))
        break
      case "Internal":
        break
    }
    m.applied = index
  }
  return m
}

const machineOf = (c: CoreCluster, id: string) => apply(c.stream.get(nid(id)) ?? [])

/** Log entries of `id` carrying `command`. */
const copies = (c: CoreCluster, id: string, command: string) => {
  const core = c.node(id)
  return core.log.range(core.log.snapshotIndex + 1, core.log.lastIndex).filter((e) => e._tag === "Command" && text(e.command) === command)
}

/** The client retries `command` under `requestId` until a leader answers; returns the index it got. */
const retryUntilAnswered = (c: CoreCluster, command: string, requestId: number, pending: number): number => {
  c.cancel("l", pending)
  for (let attempt = 0; attempt < 5; attempt++) {
    expect(c.advanceUntil(() => c.node("l").leader !== undefined && c.cores.get(c.node("l").leader!)?.role === "Leader", 3000)).toBe(true)
    const h = c.propose("l", bytes(command), requestId)
    if (c.advanceUntil(() => c.outcomes.has(h), 300) && c.outcomes.get(h)?._tag === "Proposed") return proposedIndex(c.outcomes.get(h))
    c.cancel("l", h)
  }
  throw new Error(`${command} never answered`)
}

describe("B9 a retried command is applied once", () => {
  for (const seed of [1, 2, 3]) {
    it(`retries with one (clientId, requestId) across two failovers commit at most once in the applied state (seed ${seed})`, () => {
      const c = withClient(seed)
      const first = awaitLeader(c)
      c.advance(20)
      const h = c.propose("l", bytes("pay-10"), 1)
      expect(c.advanceUntil(() => copies(c, first.id, "pay-10").some((e) => e.index <= first.commitIndex), 50)).toBe(true)
      // The answer never reaches the client; the leader dies once the voters know it committed.
      c.cutLink(first.id, "l")
      const index = copies(c, first.id, "pay-10")[0]!.index
      const voters = ["a", "b", "c"]
      expect(c.advanceUntil(() => voters.every((id) => c.node(id).commitIndex >= index), 200)).toBe(true)
      c.crash(first.id)
      c.heal()
      expect(c.outcomes.has(h)).toBe(false)

      // Retry #1 on the next leader (a second copy may commit), then failover #2 and retry #2.
      const second = awaitLeader(c, 3000, voters.filter((id) => id !== first.id))
      retryUntilAnswered(c, "pay-10", 1, h)
      c.restart(first.id)
      c.advance(100)
      c.crash(second.id)
      const h3 = c.propose("l", bytes("pay-10"), 1)
      retryUntilAnswered(c, "pay-10", 1, h3)
      c.restart(second.id)
      const after = proposedIndex(outcomeOf(c, c.propose("l", bytes("next"), 2), 1000))
      expect(c.advanceUntil(() => [...voters, "l"].every((id) => c.node(id).commitIndex >= after), 1000)).toBe(true)

      // The log holds several copies (each new leader's dedup cache starts empty); every node's
      // applied state holds one.
      const leader = c.leaders[0]!
      expect(copies(c, leader.id, "pay-10").length).toBeGreaterThanOrEqual(2)
      for (const id of [...voters, "l"]) expect(machineOf(c, id).commands, id).toEqual(["pay-10", "next"])
      expectNoConflictingCommits(c)
    })

    it(`a retry of a committed key on the same leader returns the same index and appends nothing (seed ${seed})`, () => {
      const c = withClient(seed)
      const l = awaitLeader(c)
      c.advance(20)
      const first = proposedIndex(outcomeOf(c, c.propose("l", bytes("pay-20"), 5), 50))
      const last = l.log.lastIndex
      for (let k = 0; k < 3; k++) expect(proposedIndex(outcomeOf(c, c.propose("l", bytes("pay-20"), 5), 50))).toBe(first)
      // The leader's own client, too.
      const mine = proposedIndex(outcomeOf(c, c.propose(l.id, bytes("fee"), 9), 50))
      expect(proposedIndex(outcomeOf(c, c.propose(l.id, bytes("fee"), 9), 50))).toBe(mine)
      c.advance(60)
      expect(l.log.lastIndex).toBe(last + 1)
      expect(copies(c, l.id, "pay-20")).toHaveLength(1)
      expect(copies(c, l.id, "fee")).toHaveLength(1)
    })

    it(`the session table travels in snapshots: a node seeded by one still applies a later duplicate once (seed ${seed})`, () => {
      const c = withClient(seed)
      const first = awaitLeader(c)
      c.advance(20)
      const late = ["a", "b", "c"].find((id) => id !== first.id)!
      const survivor = ["a", "b", "c"].find((id) => id !== first.id && id !== late)!
      c.crash(late)
      const h = c.propose("l", bytes("pay-30"), 1)
      const firstCopy = () => copies(c, first.id, "pay-30")[0]?.index ?? Infinity
      expect(c.advanceUntil(() => c.node(survivor).commitIndex >= firstCopy(), 100)).toBe(true)
      c.cutLink(first.id, "l")
      c.advance(60)
      // The survivor's consumer snapshots its state (table included) past the first copy.
      const s = c.node(survivor)
      const machine = machineOf(c, survivor)
      expect(machine.commands).toEqual(["pay-30"])
      expect(c.compact(survivor, machine.applied, encode(machine))).toBe(true)
      // Failover to the survivor; the retry commits a second copy after the snapshot.
      c.crash(first.id)
      c.heal()
      c.restart(late)
      const l2 = awaitLeader(c, 3000, [survivor, late])
      expect(l2.id).toBe(survivor)
      const second = retryUntilAnswered(c, "pay-30", 1, h)
      // A second copy, above the snapshot that covers the first.
      expect(second).toBeGreaterThan(s.log.snapshotIndex)
      expect(copies(c, survivor, "pay-30").map((e) => e.index)).toEqual([second])
      // `late` (empty) was seeded by the snapshot, then received the second copy as an entry.
      expect(c.advanceUntil(() => c.node(late).commitIndex === s.commitIndex, 1000)).toBe(true)
      expect(c.stream.get(nid(late))!.some((x) => x._tag === "Install")).toBe(true)
      expect(c.stream.get(nid(late))!.filter((x) => x._tag === "Entry" && text(x.entry.command) === "pay-30")).toHaveLength(1)
      for (const id of [survivor, late, "l"]) expect(machineOf(c, id).commands, id).toEqual(["pay-30"])
    })
  }
})
