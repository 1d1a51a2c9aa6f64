import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { CoreCluster } from "../../../src/testing/CoreCluster.js"

const bytes = (s: string) => new TextEncoder().encode(s)

describe("core smoke", () => {
  it("elects one leader among three and commits a proposal on every node", () => {
    const c = new CoreCluster({ ids: ["a", "b", "c"], bootstrap: ClusterConfig.ofVoters("a", "b", "c"), seed: 3 })
    expect(c.advanceUntil(() => c.leaders.length === 1, 2000)).toBe(true)
    const leader = c.leaders[0]!
    const h = c.propose(leader.id, bytes("x"))
    c.advance(60)
    const o = c.outcomes.get(h)
    expect(o?._tag).toBe("Proposed")
    if (o?._tag === "Proposed") expect(o.entry.index).toBe(2)
    for (const id of ["a", "b", "c"]) expect(c.committed.get(id as never)!.map((e) => e.index)).toEqual([1, 2])
  })
})
