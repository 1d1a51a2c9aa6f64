/**
 * Log replication on the leader (§5.3): quorum commit, fast backup for lagging followers, one
 * total order, budgeted batches, exact message cost, pipelining and recovery of a lost batch.
 */
import { describe, expect, it } from "@effect/vitest"
import type { AppendEntries } from "../../../src/codec/raft/RaftMessage.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { HEADER_RESERVE } from "../../../src/raft/core/RaftCore.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { approximateEntrySize } from "../../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, committedCommands, expectCommittedAgree, nid, text, voters } from "./helpers.js"

const cfg = RaftConfig.unsafeMake({})

/** Proposes every command on `id` within one turn, so they may share batches. */
const proposeTogether = (c: CoreCluster, id: string, commands: Array<string>, base = 10_000): Array<number> => {
  const core = c.node(id)
  const handles = commands.map((s, i) => {
    expect(core.propose(base + i, bytes(s), undefined, c.now)).toBeUndefined()
    return base + i
  })
  c.process()
  return handles
}

const appendsTo = (c: CoreCluster, from: string, to: string, since = 0) =>
  c.sent.slice(since).filter((m) => m.from === from && m.to === to && m.message._tag === "AppendEntries")
    .map((m) => ({ at: m.at, ae: m.message as AppendEntries }))

describe("replication", () => {
  for (const n of [3, 5]) {
    it(`a minority cannot commit; the majority side does, and overwrites the minority's entries (${n} nodes)`, () => {
      const c = voters(n, { seed: 21 })
      const l = awaitLeader(c)
      c.advance(10)
      const minority = [l.id, ...c.options.ids.filter((id) => id !== l.id).slice(0, (n - 1) / 2 - 1)]
      const majority = c.options.ids.filter((id) => !minority.includes(id))
      for (const a of minority) for (const b of majority) {
        c.cutLink(a, b)
        c.cutLink(b, a)
      }
      const before = l.commitIndex
      const h = c.propose(l.id, bytes("minority"))
      expect(c.advanceUntil(() => l.role !== "Leader", 2 * cfg.electionTimeoutMax)).toBe(true)
      expect(l.commitIndex).toBe(before)
      expect(c.outcomes.get(h)?._tag).toBe("LeadershipLost")
      const l2 = awaitLeader(c, 5000, majority)
      c.propose(l2.id, bytes("majority"))
      c.advance(100)
      expect(committedCommands(c, l2.id)).toEqual(["majority"])
      c.heal()
      c.advance(500)
      for (const id of c.options.ids) expect(committedCommands(c, id)).toEqual(["majority"])
      expectCommittedAgree(c)
    })
  }

  it("a majority commits with a minority crashed", () => {
    const c = voters(5, { seed: 22 })
    const l = awaitLeader(c)
    const [x, y] = c.options.ids.filter((id) => id !== l.id)
    c.crash(x!)
    c.crash(y!)
    const h = c.propose(l.id, bytes("v"))
    c.advance(20)
    expect(c.outcomes.get(h)?._tag).toBe("Proposed")
  })

  it("a lagging follower converges under a new leader with fast backup: far fewer probes than missing entries", () => {
    const c = voters(5, { seed: 23 })
    const l1 = awaitLeader(c)
    const lag = c.options.ids.find((id) => id !== l1.id)!
    c.crash(lag)
    for (let i = 0; i < 10; i++) {
      proposeTogether(c, l1.id, Array.from({ length: 20 }, (_, j) => `e${i * 20 + j}`), 100 + i * 20)
      c.advance(5)
    }
    c.advance(100)
    expect(l1.commitIndex).toBe(201)
    // A new leader knows nothing about the laggard: its first probe is at its own last index.
    c.isolate(l1.id)
    const l2 = awaitLeader(c, 5000, c.options.ids.filter((id) => id !== l1.id && id !== lag))
    const since = c.sent.length
    c.restart(lag)
    expect(c.advanceUntil(() => c.node(lag).commitIndex === l2.commitIndex && l2.commitIndex > 201, 2000)).toBe(true)
    const rejections = c.sent.slice(since).filter((m) =>
      m.from === lag && m.to === l2.id && m.message._tag === "AppendEntriesResponse" && !m.message.success
    )
    expect(rejections.length).toBeGreaterThanOrEqual(1)
    expect(rejections.length).toBeLessThanOrEqual(3)
    expect(committedCommands(c, lag)).toEqual(committedCommands(c, l2.id))
  })

  it("an ex-leader's long conflicting suffix is skipped term by term, not entry by entry", () => {
    const c = voters(5, { seed: 24 })
    const l1 = awaitLeader(c)
    c.advance(20)
    c.isolate(l1.id)
    proposeTogether(c, l1.id, Array.from({ length: 50 }, (_, i) => `stale${i}`))
    const l2 = awaitLeader(c, 5000, c.options.ids.filter((id) => id !== l1.id))
    proposeTogether(c, l2.id, Array.from({ length: 100 }, (_, i) => `fresh${i}`))
    c.advance(100)
    const since = c.sent.length
    c.heal()
    expect(c.advanceUntil(() => l1.log.lastIndex === l2.log.lastIndex && l1.commitIndex === l2.commitIndex, 2000)).toBe(true)
    const rejections = c.sent.slice(since).filter((m) =>
      m.from === l1.id && m.message._tag === "AppendEntriesResponse" && !m.message.success
    )
    expect(rejections.length).toBeLessThanOrEqual(3)
    expect(committedCommands(c, l1.id)).toEqual(Array.from({ length: 100 }, (_, i) => `fresh${i}`))
  })

  it("concurrent proposals from several nodes commit in the same order everywhere", () => {
    const c = voters(5, { seed: 25 })
    awaitLeader(c)
    c.advance(20)
    const all: Array<string> = []
    for (let round = 0; round < 10; round++) {
      for (const id of c.options.ids) {
        const s = `${id}-${round}`
        all.push(s)
        c.propose(id, bytes(s))
      }
      c.advance(round % 4)
    }
    c.advance(300)
    const order = committedCommands(c, c.options.ids[0]!)
    expect([...order].sort()).toEqual([...all].sort())
    for (const id of c.options.ids) expect(committedCommands(c, id)).toEqual(order)
    for (const [handle, o] of c.outcomes) {
      expect(o._tag, `handle ${handle}`).toBe("Proposed")
      if (o._tag === "Proposed") {
        const at = c.committed.get(nid("n1"))!.find((e) => e.index === o.entry.index)!
        expect(at._tag === "Command" && text(at.command)).toBe(text(o.entry.command))
      }
    }
  })

  it("every AppendEntries fits the transport budget unless it carries a single entry", () => {
    const maxPayload = HEADER_RESERVE + 200
    const c = voters(3, { seed: 26, maxPayload })
    const l = awaitLeader(c)
    const lag = c.options.ids.find((id) => id !== l.id)!
    c.crash(lag)
    const commands = Array.from({ length: 60 }, (_, i) => "x".repeat(5 + ((i * 37) % 90)))
    proposeTogether(c, l.id, commands.slice(0, 30))
    c.advance(30)
    proposeTogether(c, l.id, commands.slice(30))
    c.advance(30)
    c.restart(lag)
    c.advance(300)
    const batches = c.sent.filter((m) => m.message._tag === "AppendEntries").map((m) => (m.message as AppendEntries).entries)
    const budget = maxPayload - HEADER_RESERVE
    for (const entries of batches) {
      const size = entries.reduce((s, e) => s + approximateEntrySize(e), 0)
      if (entries.length > 1) expect(size).toBeLessThanOrEqual(budget)
    }
    expect(batches.filter((e) => e.length > 1).length).toBeGreaterThan(5)
    for (const id of c.options.ids) expect(committedCommands(c, id)).toEqual(commands)
  })

  it("costs exactly 2(N-1) messages per committed entry for N = 3..9 when no heartbeat falls in the window", () => {
    const config = { electionTimeoutMin: 4000, electionTimeoutMax: 8000, heartbeatInterval: 2000 }
    for (let n = 3; n <= 9; n++) {
      const c = voters(n, { seed: 27, config })
      const l = awaitLeader(c, 40_000)
      c.advance(10)
      if (l.heartbeatDeadline - c.now < 200) c.advance(l.heartbeatDeadline - c.now + 5)
      expect(l.heartbeatDeadline - c.now).toBeGreaterThanOrEqual(200)
      const since = c.sent.length
      const handles: Array<number> = []
      for (let i = 0; i < 5; i++) {
        handles.push(c.propose(l.id, bytes(`m${i}`)))
        expect(c.advanceUntil(() => c.outcomes.has(handles[i]!), 20)).toBe(true)
      }
      expect(handles.every((h) => c.outcomes.get(h)?._tag === "Proposed")).toBe(true)
      c.advance(10)
      expect(c.sent.length - since, `N = ${n}`).toBe(5 * 2 * (n - 1))
    }
  })

  it("pipelines up to maxInflight batches before the first acknowledgement", () => {
    for (const maxInflight of [1, 4]) {
      // Budget 100: one 63-byte entry per batch.
      const c = voters(3, { seed: 28, latency: 5, maxPayload: HEADER_RESERVE + 100, config: { maxInflight } })
      awaitLeader(c)
      c.advance(30)
      const l = awaitLeader(c)
      const f = c.options.ids.find((id) => id !== l.id)!
      const since = c.sent.length
      proposeTogether(c, l.id, Array.from({ length: 10 }, (_, i) => `p${String(i).padStart(18, "0")}`))
      const burst = appendsTo(c, l.id, f, since).filter((m) => m.ae.entries.length > 0)
      expect(burst.every((m) => m.ae.entries.length === 1 && m.at === c.now)).toBe(true)
      expect(burst.length).toBe(maxInflight)
      c.advance(4)
      expect(appendsTo(c, l.id, f, since).filter((m) => m.ae.entries.length > 0).length).toBe(maxInflight)
      c.advance(300)
      expect(committedCommands(c, f)).toHaveLength(10)
    }
  })

  it("a dropped batch is recovered by the heartbeat re-probe, without any new proposal", () => {
    const c = voters(3, { seed: 29 })
    const l = awaitLeader(c)
    c.advance(60)
    const f = c.options.ids.find((id) => id !== l.id)!
    c.cutLink(l.id, f)
    c.propose(l.id, bytes("lost"))
    const index = l.log.lastIndex
    c.advance(2)
    c.heal()
    expect(c.node(f).log.lastIndex).toBe(index - 1)
    expect(c.advanceUntil(() => c.node(f).log.lastIndex === index, 2 * cfg.heartbeatInterval + 5)).toBe(true)
    c.advance(cfg.heartbeatInterval + 5)
    expect(committedCommands(c, f)).toEqual(["lost"])
  })
})
