/**
 * Stranded forwards (§8 forwarding meets §5.2 leader changes): a forward is answered only by the
 * peer it was sent to, so once that peer can no longer be the leader — this node saw a higher
 * term, another leader for the term, became candidate itself, or the transport lost the peer — the
 * proposal fails with `LeadershipLost` (outcome unknown) instead of waiting forever. It is never
 * re-sent; a late answer for it, from anyone, is refused.
 *
 * Nodes here are detached (no links): the test plays the other nodes by injecting their frames,
 * so each trigger is exactly one frame.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Forward } from "../../../src/codec/raft/RaftMessage.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { append, awaitLeader, bytes, committedCommands, detached, lastSent, nid, voters } from "./helpers.js"

/** n2 follows n1 at term 1 and has forwarded one proposal to it, still unanswered. */
const forwarded = () => {
  const c = detached(["n1", "n2", "n3"])
  c.inject("n2", "n1", append({ term: 1 }))
  expect(c.node("n2").leader).toBe("n1")
  const h = c.propose("n2", bytes("in-flight"), 42)
  const fwd = lastSent(c, "n2", "n1", "Forward")
  return { c, h, fwd }
}

const forwardsOf = (c: CoreCluster) => c.sent.filter((m) => m.message._tag === "Forward")

const expectStranded = (c: CoreCluster, h: number, reason: RegExp) => {
  const o = c.outcomes.get(h)
  expect(o?._tag).toBe("LeadershipLost")
  expect(o?._tag === "LeadershipLost" && o.reason).toMatch(reason)
  expect(c.node("n2").forwards.size).toBe(0)
  // Failed, not re-forwarded: the caller decides whether to retry (same request id).
  expect(forwardsOf(c)).toHaveLength(1)
}

describe("forwards stranded by a leader change", () => {
  it("a forward fails LeadershipLost once a higher term is observed, even with no new leader known", () => {
    const { c, h } = forwarded()
    c.inject("n2", "n3", { _tag: "RequestVoteResponse", term: 2, voteGranted: false })
    expect(c.node("n2").term).toBe(2)
    expect(c.node("n2").leader).toBeUndefined()
    expectStranded(c, h, /term 2 began before n1, leader of term 1/)
  })

  it("a forward fails LeadershipLost once another node leads the term it was sent in", () => {
    const { c, h } = forwarded()
    // Correct nodes never show two leaders for one term (the pin refuses the second); this
    // clears the pin to reach the defensive rule: a forward belongs to one leader of one term.
    c.node("n2").leaderForTerm = null
    c.inject("n2", "n3", append({ term: 1 }))
    expect(c.node("n2").term).toBe(1)
    expect(c.node("n2").leader).toBe("n3")
    expectStranded(c, h, /n3 leads term 1, not n1/)
  })

  it("a forward fails LeadershipLost when this node becomes candidate (a transfer to it)", () => {
    const { c, h } = forwarded()
    c.inject("n2", "n1", { _tag: "TimeoutNow", term: 1 })
    expect(c.node("n2").role).toBe("Candidate")
    expectStranded(c, h, /became candidate at term 2 before n1 answered/)
  })

  it("a forward fails LeadershipLost when this node wins an election outright", () => {
    const { c, h } = forwarded()
    c.inject("n2", "n1", { _tag: "TimeoutNow", term: 1 })
    c.inject("n2", "n3", { _tag: "RequestVoteResponse", term: 2, voteGranted: true })
    expect(c.node("n2").role).toBe("Leader")
    expect(c.outcomes.get(h)?._tag).toBe("LeadershipLost")
    expect(c.node("n2").forwards.size).toBe(0)
  })

  it("an answer for a stranded forward is refused, from the new leader and from the old one", () => {
    const { c, h, fwd } = forwarded()
    c.inject("n2", "n3", append({ term: 2 }))
    expect(c.node("n2").leader).toBe("n3")
    expectStranded(c, h, /term 2 began before n1/)
    const committed = { _tag: "Committed", index: 2, term: 1 } as const
    c.inject("n2", "n3", { _tag: "ForwardResponse", clientRequestId: fwd.clientRequestId, outcome: committed })
    c.inject("n2", "n1", { _tag: "ForwardResponse", clientRequestId: fwd.clientRequestId, outcome: committed })
    const refusals = c.tracesOf("FrameRefused").filter((e) => e.node === "n2" && e.messageType === "ForwardResponse")
    expect(refusals.map((e) => [e.from, e.gate])).toEqual([["n3", "ResponseNotExpected"], ["n1", "ResponseNotExpected"]])
    expect(c.outcomes.get(h)?._tag).toBe("LeadershipLost")
  })

  it("a retry under the same request id goes to the new leader with the same dedup key", () => {
    const { c, h, fwd } = forwarded()
    c.inject("n2", "n3", append({ term: 2 }))
    expect(c.outcomes.get(h)?._tag).toBe("LeadershipLost")
    c.propose("n2", bytes("in-flight"), 42)
    const retry = lastSent(c, "n2", "n3", "Forward") as Forward
    expect(retry.dedupKey).toEqual(fwd.dedupKey)
  })

  it("an election timeout without a new term keeps the forward waiting: the old leader may still answer", () => {
    const { c, h, fwd } = forwarded()
    // n2 hears nobody: it times out and pre-votes (no term bump without a quorum), forgetting n1.
    c.advance(1000)
    expect(c.node("n2").term).toBe(1)
    expect(c.node("n2").leader).toBeUndefined()
    expect(c.tracesOf("PreVoteStarted").some((e) => e.node === "n2")).toBe(true)
    expect(c.outcomes.has(h)).toBe(false)
    c.inject("n2", "n1", { _tag: "ForwardResponse", clientRequestId: fwd.clientRequestId, outcome: { _tag: "Committed", index: 2, term: 1 } })
    expect(c.outcomes.get(h)).toMatchObject({ _tag: "Proposed", entry: { index: 2, term: 1 } })
  })

  it("a forward fails LeadershipLost when its peer leaves the transport; new proposals park until a reachable leader", () => {
    const { c, h } = forwarded()
    const n2 = c.node("n2")
    n2.peersChanged(new Set([nid("n1"), nid("n2"), nid("n3")]), c.now)
    c.process()
    expect(c.outcomes.has(h)).toBe(false)
    n2.peersChanged(new Set([nid("n2"), nid("n3")]), c.now)
    c.process()
    expectStranded(c, h, /n1 left the transport/)
    // n2 still believes in n1 (a Raft belief, the transport is no proof of a crash), but sends
    // nothing to a peer it cannot reach: the next proposal parks, and is cancellable as ever.
    const parked = c.propose("n2", bytes("parked"))
    expect(n2.parked.map((p) => p.handle)).toEqual([parked])
    expect(forwardsOf(c)).toHaveLength(1)
    // n1 comes back: the parked proposal goes to it.
    n2.peersChanged(new Set([nid("n1"), nid("n2"), nid("n3")]), c.now)
    c.process()
    expect(n2.parked).toEqual([])
    expect(forwardsOf(c).map((m) => [m.to, m.message._tag === "Forward" && m.message.dedupKey.requestId])).toEqual([
      ["n1", 42],
      ["n1", 43]
    ])
  })

  it("a forward the dead leader appended but never committed fails; the retry attaches to that entry, committed once", () => {
    const c = voters(3, { seed: 39 })
    const l = awaitLeader(c)
    c.advance(10)
    const [f, g] = c.options.ids.filter((id) => id !== l.id) as [string, string]
    const h = c.propose(f, bytes("maybe"), 42)
    c.advance(1)
    expect(l.log.lastIndex).toBe(2)
    // Acks never reach the leader: the entry is on every log but committed nowhere; then it dies.
    c.cutLink(f, l.id)
    c.cutLink(g, l.id)
    c.advance(3)
    expect(l.commitIndex).toBe(1)
    c.crash(l.id)
    expect(c.advanceUntil(() => c.outcomes.has(h), 1000)).toBe(true)
    expect(c.outcomes.get(h)?._tag).toBe("LeadershipLost")
    const next = awaitLeader(c, 2000, [f, g])
    const retry = c.propose(f, bytes("maybe"), 42)
    expect(c.advanceUntil(() => c.outcomes.has(retry), 500)).toBe(true)
    // The outcome was unknown indeed: the first attempt's entry (index 2, old term) committed.
    expect(c.outcomes.get(retry)).toMatchObject({ _tag: "Proposed", entry: { index: 2, term: l.term } })
    c.advance(50)
    for (const id of [f, g]) expect(committedCommands(c, id)).toEqual(["maybe"])
    expect(next.id).not.toBe(l.id)
  })
})
