/**
 * One simulation run: a seed decides the cluster size (unless given), the fault families, the
 * operator's families (membership changes, leadership transfers), whether adversaries (strangers
 * and removed members forging frames, `Adversary.ts`) attack, how often state machines
 * snapshot, how many gets bypass the log, the workload and every random choice. The run checks
 * the safety invariants at every step, the liveness of the quiet phase, and the linearizability
 * of the client history; the same seed always produces the same trace hash.
 */
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import { RaftConfig } from "../../../services/raft/RaftConfig.js"
import { checkLinearizability } from "../linearizability/Checker.js"
import { kvModel } from "../linearizability/KvModel.js"
import { InvariantChecker } from "./Invariants.js"
import type { Violation } from "./Invariants.js"
import { MembershipInvariants } from "./MembershipInvariants.js"
import { joiner, Operator } from "./Operator.js"
import { Adversary } from "./Adversary.js"
import { FaultInjector, planSeed } from "./Scenario.js"
import type { FaultKind } from "./Scenario.js"
import { SimCluster, SimFault } from "./SimCluster.js"
import { SimRandom } from "./SimRandom.js"
import { Workload } from "./Workload.js"

export interface SimOptions {
  readonly seed: number
  /** Cluster size (3–7); drawn from the seed when omitted. */
  readonly nodes?: number
  /** Client operations to run. */
  readonly operations?: number
  /** Linearizability search budget (steps). */
  readonly checkBudget?: number
  /** Force the adversary family on or off (default: drawn from the seed, half the seeds). */
  readonly adversary?: boolean
}

export interface SimResult {
  readonly seed: number
  readonly nodes: number
  readonly ok: boolean
  readonly violations: ReadonlyArray<Violation>
  readonly linearizability: "ok" | "violation" | "unknown"
  readonly explanation?: string
  readonly operations: { invoked: number; completed: number; unknown: number; retries: number }
  readonly faults: Readonly<Record<string, number>>
  readonly families: ReadonlyArray<FaultKind | "membership" | "transfer" | "adversary">
  /** Forged frames the adversaries sent (`sent:<kind>`) and members refused (`refused:<gate>`). */
  readonly adversary: Readonly<Record<string, number>>
  /** Operator actions and their outcomes (`membership:Changed`, `transfer:NotLeader`, …). */
  readonly operator: Readonly<Record<string, number>>
  /** Snapshots published, snapshots installed from a leader, reads served off the log, elections. */
  readonly stats: Readonly<Record<string, number>>
  readonly virtualMs: number
  readonly messages: number
  readonly traceHash: string
  /** The last events before the end of the run (for a failing seed's report). */
  readonly traceExcerpt: ReadonlyArray<string>
}

/** Simulated config: short timeouts so a run covers many elections in little virtual time. */
export const SIM_RAFT_CONFIG = RaftConfig.unsafeMake({ electionTimeoutMin: 50, electionTimeoutMax: 100, heartbeatInterval: 10 })

/** FNV-1a over the run's observable events: equal hashes ⇔ (practically) equal runs. */
class TraceHash {
  private h = 0x811c9dc5
  /** A ring of the most recent events, for failure reports. */
  readonly recent: Array<string> = []
  add(s: string): void {
    for (let i = 0; i < s.length; i++) this.h = Math.imul(this.h ^ s.charCodeAt(i), 0x01000193)
    if (this.recent.length >= 40) this.recent.shift()
    this.recent.push(s)
  }
  get value(): string {
    return (this.h >>> 0).toString(16).padStart(8, "0")
  }
}

export const runSeed = (options: SimOptions): SimResult => {
  const seed = options.seed
  const random = new SimRandom(seed, 0)
  // Drawn even when `nodes` is given, so later draws (spares) do not shift: a failing seed
  // reproduces with the `--nodes` the report prints.
  const drawnSize = random.int(3, 8)
  const n = options.nodes ?? drawnSize
  const plan = planSeed(new SimRandom(seed, 5))
  // The adversary family draws from its own stream, so switching it on shifts no other draw.
  const adversaryRandom = new SimRandom(seed, 9)
  const adversaryOn = options.adversary ?? adversaryRandom.chance(0.5)
  const adversaryInterval = adversaryRandom.int(5, 60)
  // Spare machines (joiners) the operator can add as learners or voters.
  const spares = plan.membership ? random.int(1, 3) : 0
  const voters = Array.from({ length: n }, (_, i) => `n${i + 1}`)
  const ids = [...voters, ...Array.from({ length: spares }, (_, i) => `n${n + i + 1}`)]
  const diskLoss = plan.faults.families.includes("diskLoss")
  const bootstrap = ClusterConfig.ofVoters(...voters)
  const cluster = new SimCluster({
    seed,
    ids,
    bootstrap,
    bootstrapOf: (id) => (voters.includes(id) ? undefined : joiner(id)),
    config: RaftConfig.unsafeMake({
      ...SIM_RAFT_CONFIG,
      snapshotChunkCeiling: plan.snapshotChunk,
      maxBatchEntries: plan.maxBatchEntries
    }),
    ...(plan.snapshotEvery !== undefined ? { snapshotEvery: plan.snapshotEvery } : {}),
    // Only the disk-loss family needs writes that a crash can lose; the rest keep the contract.
    durability: diskLoss ? "onSync" : "immediate",
    syncChance: plan.syncChance
  })
  const invariants = new InvariantChecker(cluster)
  const membership = new MembershipInvariants(cluster, invariants)
  const operator = new Operator(
    cluster,
    new SimRandom(seed, 7),
    { membership: plan.membership, transfer: plan.transfer, interval: plan.operatorInterval },
    bootstrap
  )
  const workload = new Workload(
    cluster,
    new SimRandom(seed, 3),
    {
      clients: 5,
      keys: 4,
      operations: options.operations ?? 300,
      attemptTimeout: 400,
      attempts: 3,
      readFraction: plan.readFraction
    },
    () => operator.eligible(),
    invariants
  )
  const faults = new FaultInjector(cluster, new SimRandom(seed, 4), plan.faults, operator)
  const adversary = adversaryOn
    ? new Adversary(cluster, new SimRandom(seed, 10), invariants, adversaryInterval, (id) => operator.view.isMember(id))
    : undefined
  if (adversary !== undefined) cluster.observers.push(adversary)
  const hash = new TraceHash()
  const stats = { snapshots: 0, installs: 0 }
  cluster.observers.push(invariants, membership, workload, operator, {
    onSend: (node, to, m) => hash.add(`${cluster.now} ${node.id}→${to} ${m._tag}${"term" in m ? ` t${m.term}` : ""}`),
    onApplied: (node, item) => {
      if (item._tag === "Install") stats.installs++
      hash.add(`${cluster.now} ${node.id} applied ${item._tag}`)
    },
    onCompacted: (node, index) => {
      stats.snapshots++
      hash.add(`${cluster.now} ${node.id} compacted ${index}`)
    },
    onMembership: (node, r) => hash.add(`${cluster.now} ${node.id} membership ${r.outcome._tag}`),
    onResolved: (node, r) => hash.add(`${cluster.now} ${node.id} resolved ${r.handle} ${r.outcome._tag}`)
  })

  const violations = invariants.violations
  let quietSince = Infinity
  const QUIET_AFTER_OPS = true
  const LIVENESS_MS = 20 * SIM_RAFT_CONFIG.electionTimeoutMax
  const HARD_STOP = 600_000
  try {
    cluster.start()
    while (violations.length === 0) {
      const phaseQuiet = quietSince !== Infinity
      const next = Math.min(
        cluster.nextEventAt(),
        workload.nextAt(),
        operator.nextEventAt(),
        adversary?.nextEventAt() ?? Infinity,
        phaseQuiet ? Infinity : faults.nextEventAt()
      )
      if (next === Infinity || next > HARD_STOP) break
      cluster.runUntil(next)
      if (!phaseQuiet) faults.tick(cluster.now)
      operator.tick(cluster.now)
      adversary?.tick(cluster.now)
      workload.tick(cluster.now, true)
      if (!phaseQuiet && QUIET_AFTER_OPS && workload.invoked >= workload.options.operations) {
        faults.quiesce()
        operator.stop()
        quietSince = cluster.now
      }
      if (phaseQuiet && workload.done) break
      if (phaseQuiet && cluster.now - quietSince > LIVENESS_MS) {
        violations.push({
          at: cluster.now,
          invariant: "Liveness",
          detail: `${workload.busyClients} clients still waiting ${LIVENESS_MS} ms after the faults stopped`
        })
      }
    }
    invariants.checkLogMatching()
    if (!cluster.up.some((x) => x.core!.role === "Leader") && violations.length === 0) {
      // The last op may have completed just before a re-election: allow one more election window.
      cluster.runUntil(cluster.now + 10 * SIM_RAFT_CONFIG.electionTimeoutMax)
      if (!cluster.up.some((x) => x.core!.role === "Leader")) {
        violations.push({ at: cluster.now, invariant: "Liveness", detail: "no leader after the quiet phase" })
      }
    }
  } catch (e) {
    if (!(e instanceof SimFault)) throw e
    violations.push({ at: cluster.now, invariant: "StorageContract", detail: e.message })
  }

  const check = checkLinearizability(kvModel, workload.history.operations(), { maxSteps: options.checkBudget ?? 5_000_000 })
  const lin = check.result
  const explanation = check.result === "violation" ? check.explanation : undefined
  return {
    seed,
    nodes: n,
    ok: violations.length === 0 && lin !== "violation",
    violations,
    linearizability: lin,
    ...(explanation !== undefined ? { explanation } : {}),
    operations: { invoked: workload.invoked, completed: workload.completed, unknown: workload.unknown, retries: workload.retries },
    faults: Object.fromEntries(faults.injected),
    families: [
      ...faults.plan.families,
      ...(plan.membership ? ["membership" as const] : []),
      ...(plan.transfer ? ["transfer" as const] : []),
      ...(adversaryOn ? ["adversary" as const] : [])
    ],
    adversary: adversary === undefined ? {} : Object.fromEntries([
      ...[...adversary.sent].map(([k, v]) => [`sent:${k}`, v] as const),
      ...[...adversary.refused].map(([k, v]) => [`refused:${k}`, v] as const)
    ].sort(([a], [b]) => (a < b ? -1 : 1))),
    operator: Object.fromEntries([...operator.counts].sort(([a], [b]) => (a < b ? -1 : 1))),
    stats: {
      ...stats,
      elections: membership.elections,
      readsLeader: workload.reads.leader,
      readsFollower: workload.reads.follower,
      readsLearner: workload.reads.learner,
      readsDropped: workload.reads.dropped,
      pinnedRetries: workload.pinnedRetries
    },
    virtualMs: cluster.now,
    messages: cluster.network.stats.sent,
    traceHash: hash.value,
    traceExcerpt: violations.length > 0 || lin === "violation" ? hash.recent : []
  }
}
