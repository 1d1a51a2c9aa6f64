/**
 * A follower that lost entries it acknowledged (its storage broke the contract): the leader learns
 * it from a refusal at or below the follower's match that answers a frame sent after the leader
 * received the follower's last acknowledgement (a later ReadIndex round), forgets the match, and
 * re-probes from the follower's last index + 1 (etcd-io/raft #25). Stale refusals — duplicated,
 * delayed, or sent before an acknowledgement that overtook them — change nothing;
 * the leader's commit index never moves back; the follower counts toward a commit again only once
 * its probe has re-proved its log (§5.3), so Figure 8's rule is untouched.
 */
import { describe, expect, it } from "@effect/vitest"
import type { AppendEntries, AppendEntriesResponse } from "../../../src/codec/raft/RaftMessage.js"
import { Prng } from "../../../src/raft/core/Prng.js"
import type { RaftCore } from "../../../src/raft/core/RaftCore.js"
import type { CoreCluster } from "../../../src/testing/CoreCluster.js"
import { awaitLeader, bytes, expectCommittedAgree, leadersByTerm, nid, voters } from "./helpers.js"

/** A three-node cluster whose leader has replicated `n` commands to both followers and committed them. */
const settled = (seed: number, n = 6) => {
  const c = voters(3, { seed })
  const l = awaitLeader(c)
  for (let i = 0; i < n; i++) c.propose(l.id, bytes(`w${i}`))
  c.advance(60)
  const [f, g] = c.options.ids.filter((id) => id !== l.id) as [string, string]
  const pr = l.progress.get(nid(f))!
  expect(pr.state).toBe("Replicate")
  expect(pr.match).toBe(l.log.lastIndex)
  expect(l.commitIndex).toBe(l.log.lastIndex)
  return { c, l, f, g, pr }
}

/** Runs until `l` has sent at least one more heartbeat, so its ReadIndex round moved on. */
const nextRound = (c: CoreCluster, l: RaftCore): number => {
  const round = l.reads.round
  expect(c.advanceUntil(() => l.reads.round > round, 2 * l.cfg.heartbeatInterval)).toBe(true)
  return l.reads.round
}

const refusal = (l: RaftCore, fields: Partial<AppendEntriesResponse>): AppendEntriesResponse => ({
  _tag: "AppendEntriesResponse",
  term: l.term,
  success: false,
  matchIndex: 0,
  rejectedIndex: 0,
  conflictIndex: 0,
  conflictTerm: 0,
  echoedRound: l.reads.round,
  ...fields
})

const appendsTo = (c: CoreCluster, from: string, to: string, since: number): Array<AppendEntries> =>
  c.sent.slice(since).filter((m) => m.from === from && m.to === to && m.message._tag === "AppendEntries")
    .map((m) => m.message as AppendEntries)

describe("a follower that lost entries it acknowledged", () => {
  it("a refusal of its match in a later round, showing its log ends 3 entries short, sends it back to Probe at its last index + 1", () => {
    const { c, l, f, pr } = settled(31)
    c.isolate(f)
    const round = nextRound(c, l)
    const match = pr.match
    const commit = l.commitIndex
    const since = c.sent.length
    c.inject(l.id, f, refusal(l, { rejectedIndex: match, conflictIndex: match - 2, echoedRound: round }))
    expect(pr.state).toBe("Probe")
    expect(pr.match).toBe(0)
    expect(pr.next).toBe(match - 2)
    // The probe goes out at once, anchored at the follower's last index with our term there.
    const probe = appendsTo(c, l.id, f, since)[0]!
    expect(probe.prevLogIndex).toBe(match - 3)
    expect(probe.prevLogTerm).toBe(l.log.termAt(match - 3))
    expect(probe.entries.map((e) => e.index)).toEqual([match - 2, match - 1, match])
    expect(l.commitIndex).toBe(commit)
    expect(c.tracesOf("AppendEntriesRejected").at(-1)).toMatchObject({ from: f, conflictIndex: match - 2 })
  })

  it("the same refusal echoing the round of its last acknowledgement is a stale duplicate and changes nothing", () => {
    const { c, l, f, pr } = settled(32)
    c.isolate(f)
    nextRound(c, l)
    const proven = pr.provenRound
    expect(proven).toBeLessThan(l.reads.round)
    const before = { state: pr.state, match: pr.match, next: pr.next }
    const since = c.sent.length
    for (const echoedRound of [proven, proven - 1, 0]) {
      c.inject(l.id, f, refusal(l, { rejectedIndex: pr.match, conflictIndex: pr.match - 2, echoedRound }))
    }
    expect({ state: pr.state, match: pr.match, next: pr.next }).toEqual(before)
    expect(appendsTo(c, l.id, f, since)).toEqual([])
  })

  it("a refusal naming another term at or below its match (a lost truncation) backs up over that term", () => {
    const { c, l, f, pr } = settled(33)
    c.isolate(f)
    const round = nextRound(c, l)
    const match = pr.match
    // The follower claims a term our log never had (below ours) from index 2 through `match`.
    const foreign = l.term + 7
    c.inject(l.id, f, refusal(l, { rejectedIndex: match, conflictIndex: 2, conflictTerm: foreign, echoedRound: round }))
    expect(pr.state).toBe("Probe")
    expect(pr.match).toBe(0)
    expect(pr.next).toBe(2)
  })

  it("a refusal the follower sent before its acknowledgement but delivered after it (reordered pipelined batches) is not taken for a loss", () => {
    const { c, l, f, pr } = settled(34)
    c.isolate(f)
    const round = nextRound(c, l)
    const match = pr.match
    // The acknowledgement answers a batch of an older round; it arrives first, in round `round`...
    c.inject(l.id, f, { ...refusal(l, {}), success: true, matchIndex: match, echoedRound: round - 1 })
    expect(pr.provenRound).toBe(round)
    // ...then the refusal of a later batch (sent in `round`, before the acknowledgement arrived).
    const since = c.sent.length
    c.inject(l.id, f, refusal(l, { rejectedIndex: match, conflictIndex: match - 1, echoedRound: round }))
    expect(pr.state).toBe("Replicate")
    expect(pr.match).toBe(match)
    expect(appendsTo(c, l.id, f, since)).toEqual([])
  })

  it("a refusal echoing a round above the leader's current one is not genuine and changes nothing", () => {
    const { c, l, f, pr } = settled(37)
    c.isolate(f)
    nextRound(c, l)
    const match = pr.match
    c.inject(l.id, f, refusal(l, { rejectedIndex: match, conflictIndex: 1, echoedRound: l.reads.round + 1 }))
    expect(pr.state).toBe("Replicate")
    expect(pr.match).toBe(match)
  })

  it("the commit index never moves back, and the follower counts toward a commit only after its probe re-proves its log", () => {
    const { c, l, f, g, pr } = settled(35)
    c.crash(g)
    c.isolate(f)
    const round = nextRound(c, l)
    const commit = l.commitIndex
    c.inject(l.id, f, refusal(l, { rejectedIndex: pr.match, conflictIndex: pr.match - 1, echoedRound: round }))
    expect(pr.match).toBe(0)
    c.propose(l.id, bytes("after"))
    const target = l.log.lastIndex
    // With g down and f's match forgotten, nothing new can commit; nothing already committed is undone.
    const commits: Array<number> = []
    for (let ms = 0; ms < 40; ms++) {
      c.advance(1)
      commits.push(l.commitIndex)
    }
    expect(new Set(commits)).toEqual(new Set([commit]))
    // f is reachable again: the probe (prev = its claimed last index) succeeds and f counts again.
    c.heal()
    expect(c.advanceUntil(() => l.commitIndex === target, 200)).toBe(true)
    expect(pr.state).toBe("Replicate")
    expect(pr.match).toBe(target)
    expect(c.advanceUntil(() => c.node(f).commitIndex === target, 2 * l.cfg.heartbeatInterval)).toBe(true)
    expectCommittedAgree(c)
  })

  it("a follower restarted on a disk that lost its acknowledged tail is repaired by the same leader within a few heartbeats, without an election", () => {
    const c = voters(3, { seed: 36 })
    const l = awaitLeader(c)
    const f = c.options.ids.find((id) => id !== l.id)!
    c.propose(l.id, bytes("kept"))
    c.advance(60)
    const checkpoint = structuredClone(c.disks.get(nid(f))!)
    for (const s of ["lost1", "lost2", "lost3"]) c.propose(l.id, bytes(s))
    c.advance(3)
    expect(l.progress.get(nid(f))!.match).toBe(l.log.lastIndex)
    c.crash(f)
    c.disks.set(nid(f), checkpoint)
    c.restart(f)
    expect(c.node(f).log.lastIndex).toBe(l.log.lastIndex - 3)
    const term = l.term
    const started = c.now
    expect(c.advanceUntil(() => c.node(f).log.lastIndex === l.log.lastIndex && c.node(f).commitIndex === l.commitIndex, 500)).toBe(true)
    // One heartbeat is refused and answered with the probe; allow for the heartbeat phase.
    expect(c.now - started).toBeLessThanOrEqual(3 * l.cfg.heartbeatInterval)
    expect(l.role).toBe("Leader")
    expect(l.term).toBe(term)
    expect(leadersByTerm(c).size).toBe(1)
    expectCommittedAgree(c)
  })
})

describe("losses under a duplicating, reordering network", () => {
  for (const seed of [1, 2, 3]) {
    it(`each lost tail is repaired by the same leader, and no intact follower's match is ever forgotten (seed ${seed})`, () => {
      const c = voters(5, { seed })
      const l = awaitLeader(c)
      c.advance(30)
      const term = l.term
      const [damaged, ...intact] = c.options.ids.filter((id) => id !== l.id) as [string, ...Array<string>]
      const rng = new Prng(seed * 7919 + 1)
      // Every drop of an intact follower's match, within one Progress (one leadership).
      const forgotten: Array<string> = []
      const seen = new Map<string, { pr: object; match: number }>()
      const watch = () => {
        for (const id of intact) {
          const pr = l.progress.get(nid(id))!
          const prior = seen.get(id)
          if (prior !== undefined && prior.pr === pr && pr.match < prior.match) forgotten.push(`${id} ${prior.match} -> ${pr.match} at ${c.now}`)
          seen.set(id, { pr, match: pr.match })
        }
      }
      /**
       * One ms of traffic in which a link from the leader may drop what arrives (so followers
       * refuse batches whose predecessor was lost), plus two old frames re-delivered (picked among
       * the last 100 ms: late acknowledgements and late refusals, in any order).
       */
      let window = 0
      /** Late refusals from intact followers of an index they had since acknowledged: all must be ignored. */
      let staleRefusals = 0
      const step = () => {
        if (c.now % 5 === 0) c.propose(l.id, bytes(`w${c.now}`))
        const lossy = rng.nextU32() % 3 === 0 ? `${l.id}->${intact[rng.nextU32() % intact.length]}` : undefined
        if (lossy !== undefined) c.cut.add(lossy)
        c.advance(1)
        if (lossy !== undefined) c.cut.delete(lossy)
        while (c.sent[window]!.at < c.now - 100) window++
        for (let k = 0; k < 2; k++) {
          const old = c.sent[window + (rng.nextU32() % (c.sent.length - window))]!
          const tag = old.message._tag
          if ((tag === "AppendEntries" || tag === "AppendEntriesResponse") && c.cores.has(old.to)) {
            if (tag === "AppendEntriesResponse" && !old.message.success && intact.includes(old.from)) {
              if (old.message.rejectedIndex <= l.progress.get(old.from)!.match) staleRefusals++
            }
            c.inject(old.to, old.from, old.message)
          }
        }
        watch()
      }
      const repairs: Array<number> = []
      for (let episode = 0; episode < 4; episode++) {
        for (let ms = 0; ms < 80; ms++) step()
        // The damaged follower acknowledges a few more entries, then restarts on a disk without them.
        const checkpoint = structuredClone(c.disks.get(nid(damaged))!)
        for (let ms = 0; ms < 25; ms++) step()
        const acknowledged = l.progress.get(nid(damaged))!.match
        expect(acknowledged).toBeGreaterThan(checkpoint.entries.at(-1)?.index ?? 0)
        c.crash(damaged)
        c.disks.set(nid(damaged), checkpoint)
        c.restart(damaged)
        const started = c.now
        const d = c.node(damaged)
        while (!(d.log.lastIndex >= acknowledged && d.commitIndex >= acknowledged) && c.now - started < 1000) step()
        expect(d.log.lastIndex, `episode ${episode}: the damaged follower caught up`).toBeGreaterThanOrEqual(acknowledged)
        expect(d.commitIndex).toBeGreaterThanOrEqual(acknowledged)
        repairs.push(c.now - started)
      }
      expect(forgotten).toEqual([])
      expect(staleRefusals).toBeGreaterThan(10)
      // Repaired within two heartbeat intervals each time (no leader change needed).
      for (const ms of repairs) expect(ms).toBeLessThanOrEqual(2 * l.cfg.heartbeatInterval)
      expect(l.role).toBe("Leader")
      expect(l.term).toBe(term)
      expect(leadersByTerm(c).size).toBe(1)
      expectCommittedAgree(c)
    })
  }
})
