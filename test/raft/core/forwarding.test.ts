/**
 * Proposals from any role (§8 forwarding): forward to the known leader, park while none is known,
 * never send a cancelled parked proposal, accept an answer only from the peer asked, and resolve
 * everything pending when the leader steps down.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Forward } from "../../../src/codec/raft/RaftMessage.js"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, committedByIndex, committedCommands, lastSent, nid, text, voters } from "./helpers.js"

const cfg = RaftConfig.unsafeMake({})

const forwardsOf = (c: CoreCluster, command: string) =>
  c.sent.filter((m) => m.message._tag === "Forward" && text(m.message.command) === command)

describe("forwarding", () => {
  it("a proposal on a follower is forwarded, commits via the leader, and resolves with its index", () => {
    const c = voters(3, { seed: 31 })
    const l = awaitLeader(c)
    c.advance(10)
    const f = c.options.ids.find((id) => id !== l.id)!
    const h = c.propose(f, bytes("via-leader"))
    expect(forwardsOf(c, "via-leader").map((m) => [m.from, m.to])).toEqual([[f, l.id]])
    expect(c.advanceUntil(() => c.outcomes.has(h), 100)).toBe(true)
    const o = c.outcomes.get(h)!
    if (o._tag !== "Proposed") throw new Error(`unexpected ${o._tag}`)
    const at = committedByIndex(c, l.id).get(o.entry.index)!
    expect(at._tag === "Command" && text(at.command)).toBe("via-leader")
    expect(at.term).toBe(o.entry.term)
    expect(o.entry.dedupKey.clientId).toBe(c.node(f).clientId)
    c.advance(100)
    for (const id of c.options.ids) expect(committedCommands(c, id)).toEqual(["via-leader"])
  })

  it("a proposal on a learner is forwarded and commits the same way", () => {
    const c = new CoreCluster({ ids: ["a", "b", "c", "l"], bootstrap: ClusterConfig.of(["a", "b", "c"], ["l"]), seed: 32 })
    awaitLeader(c)
    c.advance(20)
    expect(c.node("l").role).toBe("Learner")
    const h = c.propose("l", bytes("from-learner"))
    expect(c.advanceUntil(() => c.outcomes.has(h), 100)).toBe(true)
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "Proposed", entry: { index: 2 } })
    c.advance(100)
    for (const id of ["a", "b", "c", "l"]) expect(committedCommands(c, id)).toEqual(["from-learner"])
  })

  it("with no leader known a proposal is parked, then sent (or proposed locally) once a leader appears", () => {
    const c = voters(3, { seed: 33 })
    const handles = c.options.ids.map((id) => c.propose(id, bytes(`early-${id}`)))
    for (const id of c.options.ids) expect(c.node(id).parked).toHaveLength(1)
    expect(c.sent.filter((m) => m.message._tag === "Forward")).toEqual([])
    const l = awaitLeader(c)
    const electedAt = c.tracesOf("BecomeLeader")[0]!.at
    expect(c.advanceUntil(() => handles.every((h) => c.outcomes.has(h)), 200)).toBe(true)
    for (const h of handles) expect(c.outcomes.get(h)?._tag).toBe("Proposed")
    const fwds = c.sent.filter((m) => m.message._tag === "Forward")
    expect(fwds.map((m) => m.from).sort()).toEqual(c.options.ids.filter((id) => id !== l.id).sort())
    for (const m of fwds) expect(m.at).toBeGreaterThanOrEqual(electedAt)
    expect(fwds.every((m) => m.to === l.id)).toBe(true)
  })

  it("a follower that lost its leader parks; the proposal goes out when a leader is known again", () => {
    const c = voters(3, { seed: 34 })
    awaitLeader(c)
    c.advance(20)
    for (const id of c.options.ids) c.isolate(id)
    const f = c.options.ids.find((id) => c.node(id).role !== "Leader")!
    expect(c.advanceUntil(() => c.node(f).leader === undefined, 2 * cfg.electionTimeoutMax)).toBe(true)
    const h = c.propose(f, bytes("parked"))
    expect(c.node(f).parked).toHaveLength(1)
    c.advance(500)
    expect(forwardsOf(c, "parked")).toEqual([])
    c.heal()
    expect(c.advanceUntil(() => c.outcomes.has(h), 3000)).toBe(true)
    expect(c.outcomes.get(h)?._tag).toBe("Proposed")
  })

  it("a cancelled parked proposal is never sent and never commits", () => {
    const c = voters(3, { seed: 35 })
    const f = "n2"
    const ghost = c.propose(f, bytes("ghost"))
    const kept = c.propose(f, bytes("kept"))
    c.cancel(f, ghost)
    expect(c.node(f).parked.map((p) => text(p.command))).toEqual(["kept"])
    awaitLeader(c)
    c.advance(1000)
    expect(forwardsOf(c, "ghost")).toEqual([])
    for (const id of c.options.ids) expect(committedCommands(c, id)).toEqual(["kept"])
    expect(c.outcomes.has(ghost)).toBe(false)
    expect(c.outcomes.get(kept)?._tag).toBe("Proposed")
  })

  it("a forward response from a node the forward was not sent to is refused; the real one resolves it", () => {
    const c = voters(3, { seed: 36 })
    const l = awaitLeader(c)
    c.advance(10)
    const [f, g] = c.options.ids.filter((id) => id !== l.id) as [string, string]
    const h = c.propose(f, bytes("mine"))
    const fwd = lastSent(c, f, l.id, "Forward") as Forward
    c.inject(f, g, { _tag: "ForwardResponse", clientRequestId: fwd.clientRequestId, outcome: { _tag: "Committed", index: 99, term: 99 } })
    expect(c.tracesOf("FrameRefused").at(-1)).toMatchObject({ node: f, from: g, messageType: "ForwardResponse", gate: "ResponseNotExpected" })
    expect(c.outcomes.has(h)).toBe(false)
    expect(c.advanceUntil(() => c.outcomes.has(h), 100)).toBe(true)
    const o = c.outcomes.get(h)!
    expect(o).toMatchObject({ _tag: "Proposed", entry: { index: 2, term: l.term } })
  })

  it("a Forward reaching a non-leader is answered NotLeader and never re-forwarded", () => {
    const c = voters(3, { seed: 37 })
    const l = awaitLeader(c)
    c.advance(10)
    const [f, g] = c.options.ids.filter((id) => id !== l.id) as [string, string]
    const before = c.sent.filter((m) => m.message._tag === "Forward").length
    c.inject(g, f, { _tag: "Forward", clientRequestId: 7, command: bytes("stray"), dedupKey: { clientId: c.node(f).clientId, requestId: 1 } })
    expect(lastSent(c, g, f, "ForwardResponse")).toEqual({ _tag: "ForwardResponse", clientRequestId: 7, outcome: { _tag: "NotLeader" } })
    expect(c.sent.filter((m) => m.message._tag === "Forward").length).toBe(before)
    c.advance(100)
    for (const id of c.options.ids) expect(committedCommands(c, id)).toEqual([])
  })

  it("a leader stepping down resolves its local proposals LeadershipLost and answers forwarded ones NotLeader", () => {
    const c = voters(5, { seed: 38 })
    const l = awaitLeader(c)
    c.advance(10)
    const [b, ...others] = c.options.ids.filter((id) => id !== l.id) as [string, ...Array<string>]
    // {l, b} is a minority: l keeps b's forwards coming but cannot commit, and loses its quorum.
    for (const id of others) for (const x of [l.id, b]) {
      c.cutLink(x, id)
      c.cutLink(id, x)
    }
    const local = c.propose(l.id, bytes("local"))
    const forwarded = c.propose(b, bytes("forwarded"))
    c.advance(5)
    expect(l.pendingForwarded.size).toBe(1)
    expect(c.advanceUntil(() => l.role !== "Leader", 2 * cfg.electionTimeoutMax)).toBe(true)
    expect(c.tracesOf("BecomeFollower").filter((e) => e.node === l.id)).toMatchObject([{ term: l.term, reason: "LostQuorum" }])
    expect(c.outcomes.get(local)?._tag).toBe("LeadershipLost")
    expect(lastSent(c, l.id, b, "ForwardResponse").outcome).toEqual({ _tag: "NotLeader" })
    c.advance(5)
    expect(c.outcomes.get(forwarded)?._tag).toBe("LeadershipLost")
    expect(c.disks.get(nid(l.id))!.entries.some((e) => e._tag === "Command")).toBe(true)
  })
})
