/**
 * The simulator's adversary family (src/testing/sim/Adversary.ts) and the `--nodes 1` fix: with
 * strangers and removed members forging every frame kind, every invariant and linearizability
 * hold; the `NoTermFromStranger` invariant fires on a node that trusts strangers; a lone voter
 * that compacts past its own earlier last index is no LeaderAppendOnly violation.
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import { Adversary, STRANGERS } from "../../../src/testing/sim/Adversary.js"
import { InvariantChecker } from "../../../src/testing/sim/Invariants.js"
import { runSeed, SIM_RAFT_CONFIG } from "../../../src/testing/sim/runSeed.js"
import { SimCluster } from "../../../src/testing/sim/SimCluster.js"
import { SimRandom } from "../../../src/testing/sim/SimRandom.js"

describe("adversary family", () => {
  it("with adversaries forced on, seeds keep every invariant and linearize; the gate refused their frames", async () => {
    const refused = new Map<string, number>()
    for (let seed = 1; seed <= 12; seed++) {
      const r = runSeed({ seed, operations: 150, adversary: true })
      expect(r.families).toContain("adversary")
      if (!r.ok) expect.fail(`seed ${seed}: ${JSON.stringify(r.violations)} ${r.explanation ?? ""}`)
      for (const [k, v] of Object.entries(r.adversary)) refused.set(k, (refused.get(k) ?? 0) + v)
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    expect(refused.get("refused:NotAMember") ?? 0).toBeGreaterThan(100)
    expect(refused.get("sent:asRemovedMember") ?? 0).toBeGreaterThan(0)
  }, 120_000)

  it("NoTermFromStranger fires on a node that believes strangers", () => {
    const ids = ["n1", "n2", "n3"]
    const c = new SimCluster({ seed: 9, ids, bootstrap: ClusterConfig.ofVoters(...ids), config: SIM_RAFT_CONFIG })
    const invariants = new InvariantChecker(c)
    const adversary = new Adversary(c, new SimRandom(9, 10), invariants, 5, (id) => ids.includes(id))
    // n1 is broken: it takes a stranger's frames as if n2 had sent them.
    c.observers.push(invariants, adversary, {
      onStart: (node) => {
        if (node.id !== "n1") return
        const core = node.core!
        const receive = core.receive.bind(core)
        core.receive = (from, m, now) => receive(STRANGERS.includes(from) ? ("n2" as NodeId) : from, m, now)
      }
    })
    c.start()
    for (let t = 0; t < 3000 && !invariants.violations.some((v) => v.invariant === "NoTermFromStranger"); t += 5) {
      c.runUntil(c.now + 5)
      adversary.tick(c.now)
    }
    // (The forged frames it takes break other invariants too: the simulator sees it either way.)
    expect(invariants.violations.map((v) => v.invariant)).toContain("NoTermFromStranger")
  })
})

describe("sim --nodes 1", () => {
  it("a lone voter that compacts is clean over many seeds (LeaderAppendOnly read terms below the snapshot floor)", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSeed({ seed, operations: 150, nodes: 1 })
      if (!r.ok) expect.fail(`seed ${seed}: ${JSON.stringify(r.violations)}`)
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }, 120_000)
})
