/**
 * Shared body of the CI seed sweeps: each test file runs one slice of the seed range, so vitest's
 * forks pool spreads the sweep over the machine's cores.
 */
import { describe, expect, it } from "@effect/vitest"
import { runSeed } from "../../../src/testing/sim/runSeed.js"
import type { SimResult } from "../../../src/testing/sim/runSeed.js"

export const SEEDS_PER_SLICE = 150
export const OPERATIONS = 300

const describeFailure = (r: SimResult) =>
  [
    `seed ${r.seed} failed — reproduce with: npm run sim -- --seeds 1 --from ${r.seed} --nodes ${r.nodes} --ops ${OPERATIONS}`,
    ...r.violations.map((v) => `  ${v.invariant} at ${v.at} ms: ${v.detail}`),
    r.explanation ?? ""
  ].join("\n")

export const sweep = (slice: number) =>
  describe(`simulation seeds ${slice * SEEDS_PER_SLICE + 1}..${(slice + 1) * SEEDS_PER_SLICE}`, () => {
    it(`${SEEDS_PER_SLICE} seeded fault schedules × ${OPERATIONS} operations keep every invariant and linearize`, async () => {
      let faults = 0
      let checked = 0
      const seen = new Map<string, number>()
      const note = (r: Readonly<Record<string, number>>) => {
        for (const [k, v] of Object.entries(r)) seen.set(k, (seen.get(k) ?? 0) + v)
      }
      for (let i = 1; i <= SEEDS_PER_SLICE; i++) {
        const r = runSeed({ seed: slice * SEEDS_PER_SLICE + i, operations: OPERATIONS })
        if (!r.ok) expect.fail(describeFailure(r))
        expect(r.linearizability).not.toBe("violation")
        faults += Object.values(r.faults).reduce((a, b) => a + b, 0)
        checked += r.operations.invoked
        note(r.stats)
        note(r.operator)
        note(r.adversary)
        // Let the test worker answer the runner between seeds (a long synchronous loop starves it).
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
      // The sweep must actually exercise faults and operations (a sweep that injects nothing
      // would pass vacuously).
      expect(faults).toBeGreaterThan(SEEDS_PER_SLICE)
      expect(checked).toBe(SEEDS_PER_SLICE * OPERATIONS)
      // …and every feature the simulator drives must actually have been exercised: snapshots
      // published and installed, reads answered off the log on each role, membership changes,
      // transfers and disk-loss replacements that completed, and adversaries — strangers and
      // removed members — whose forged frames the membership gate refused.
      for (const what of [
        "snapshots",
        "installs",
        "readsLeader",
        "readsFollower",
        "readsLearner",
        "membership:Changed",
        "transfer:Transferred",
        "replaced",
        "sent:AppendEntries",
        "sent:InstallSnapshot",
        "sent:RequestVote",
        "sent:Forward",
        "sent:Replay",
        "sent:Garbage",
        "sent:asRemovedMember",
        "refused:NotAMember"
      ]) {
        expect(seen.get(what) ?? 0, what).toBeGreaterThan(0)
      }
    }, 600_000)
  })
