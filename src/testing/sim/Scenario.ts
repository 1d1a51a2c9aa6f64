/**
 * Seed → fault schedule ("swarm testing", reference §3.6): each seed switches fault families on
 * or off and draws their intensities, then a schedule of faults that each start and later end.
 * After the fault phase comes a quiet phase in which the cluster must recover.
 *
 * Crashes and pauses never take down a majority of any voter set in force (the topology says
 * which: the configuration changes under the operator). A disk loss (`diskLoss`) is permanent:
 * the node loses its un-synced writes and the operator replaces it under a new identity.
 */
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { SimCluster } from "./SimCluster.js"
import type { SimRandom } from "./SimRandom.js"

/** What the injector needs to know about membership (the operator provides it). */
export interface Topology {
  /** Voter sets whose majority must stay up (both halves while joint). */
  voterSets(): ReadonlyArray<ReadonlySet<NodeId>>
  canLoseDisk(): boolean
  /** Crashes `id` keeping only `keep` pending writes and replaces it under a new identity. */
  loseDisk(id: NodeId, keep: number): void
}

/** Operator families and the state-machine knobs a seed draws (see `Operator`, `SimCluster`). */
export interface SeedPlan {
  readonly faults: FaultPlan
  readonly membership: boolean
  readonly transfer: boolean
  /** Mean ms between operator actions. */
  readonly operatorInterval: number
  /** Mean applied entries between snapshots (undefined: this seed never compacts). */
  readonly snapshotEvery: number | undefined
  /** InstallSnapshot chunk size: small values force many chunks. */
  readonly snapshotChunk: number
  readonly maxBatchEntries: number
  /** Fraction of gets served through ReadIndex / read fences rather than the log. */
  readonly readFraction: number
  /** With `diskLoss`: the chance that a write is followed by a sync. */
  readonly syncChance: number
}

export const planSeed = (random: SimRandom): SeedPlan => {
  const faults = planFaults(random)
  return {
    faults,
    membership: random.chance(0.5),
    transfer: random.chance(0.5),
    operatorInterval: random.int(150, 800),
    snapshotEvery: random.chance(0.85) ? random.pick([4, 10, 25, 60]) : undefined,
    snapshotChunk: random.pick([48, 200, 16 * 1024]),
    maxBatchEntries: random.pick([4, 64, 4096]),
    readFraction: random.pick([0, 0.3, 0.7, 1]),
    syncChance: random.int(5, 60) / 100
  }
}

export type FaultKind =
  | "crash"
  | "isolate"
  | "split"
  | "oneWay"
  | "bridge"
  | "pause"
  | "lossy"
  | "duplicate"
  | "slow"
  | "diskLoss"

export interface FaultPlan {
  readonly families: ReadonlyArray<FaultKind>
  /** Mean ms between fault starts. */
  readonly interval: number
  /** Mean ms a fault lasts. */
  readonly duration: number
}

/** Draws which fault families a seed exercises. */
export const planFaults = (random: SimRandom): FaultPlan => {
  const all: ReadonlyArray<FaultKind> = ["crash", "isolate", "split", "oneWay", "bridge", "pause", "lossy", "duplicate", "slow", "diskLoss"]
  // Disk loss is rarer: each one retires a node for the rest of the run.
  const families = all.filter((k) => random.chance(k === "diskLoss" ? 0.25 : 0.5))
  return {
    families: families.length === 0 ? [random.pick(all)] : families,
    interval: random.int(100, 600),
    duration: random.int(100, 1500)
  }
}

/** One active fault and how to end it. */
interface Active {
  readonly kind: FaultKind
  readonly until: number
  readonly end: () => void
}

export class FaultInjector {
  private active: Array<Active> = []
  private nextAt: number
  readonly injected = new Map<FaultKind, number>()

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SimRandom,
    readonly plan: FaultPlan,
    private readonly topology: Topology
  ) {
    this.nextAt = random.int(50, plan.interval * 2)
  }

  nextEventAt(): number {
    let t = this.nextAt
    for (const a of this.active) t = Math.min(t, a.until)
    return t
  }

  /** Ends due faults and starts the next one when its time has come. */
  tick(now: number): void {
    const still: Array<Active> = []
    for (const a of this.active) {
      if (now >= a.until) a.end()
      else still.push(a)
    }
    this.active = still
    if (now >= this.nextAt) {
      this.start(now)
      this.nextAt = now + this.random.int(1, this.plan.interval * 2)
    }
  }

  /** Ends every fault and stops injecting (the quiet phase). */
  quiesce(): void {
    for (const a of this.active) a.end()
    this.active = []
    this.nextAt = Infinity
    const c = this.cluster
    c.network.healAll()
    c.network.conditions = { minDelay: 1, jitter: 2, dropRate: 0, duplicateRate: 0 }
    for (const n of c.nodes.values()) {
      if (n.core === undefined) c.restart(n.id)
      c.resume(n.id)
    }
  }

  /**
   * May `id` go down now? Never when that leaves a majority of some voter set in force down (then
   * nothing could progress, which is not a bug; partitions may, since healing them is part of
   * every fault's end). Nodes outside every voter set may always go down.
   */
  private canTakeDown(id: NodeId): boolean {
    const down = (x: NodeId) => {
      const n = this.cluster.nodes.get(x)
      return n === undefined || n.core === undefined || n.paused
    }
    for (const set of this.topology.voterSets()) {
      if (!set.has(id)) continue
      let d = 1
      for (const x of set) if (x !== id && down(x)) d++
      if (d > Math.floor((set.size - 1) / 2)) return false
    }
    return true
  }

  private start(now: number): void {
    const kind = this.random.pick(this.plan.families)
    const c = this.cluster
    const ids = [...c.nodes.keys()]
    const until = now + this.random.int(this.plan.duration >> 1, this.plan.duration * 2)
    const upIds = ids.filter((id) => c.nodes.get(id)!.core !== undefined && !c.nodes.get(id)!.paused)
    let end: () => void
    switch (kind) {
      case "crash": {
        const victims = upIds.filter((id) => this.canTakeDown(id))
        if (victims.length === 0) return
        const id = this.random.pick(victims)
        c.crash(id)
        end = () => c.restart(id)
        break
      }
      case "pause": {
        const victims = upIds.filter((id) => this.canTakeDown(id))
        if (victims.length === 0) return
        const id = this.random.pick(victims)
        c.pause(id)
        end = () => c.resume(id)
        break
      }
      case "diskLoss": {
        // A voter (where a loss matters most) whose loss leaves its voter sets a working majority.
        if (!this.topology.canLoseDisk()) return
        const voters = new Set(this.topology.voterSets().flatMap((s) => [...s]))
        const victims = upIds.filter((id) => voters.has(id) && this.canTakeDown(id))
        if (victims.length === 0) return
        const id = this.random.pick(victims)
        this.topology.loseDisk(id, this.random.int(0, c.node(id).disk.pendingBatches + 1))
        end = () => {}
        break
      }
      case "isolate": {
        const id = this.random.pick(ids)
        for (const o of ids) if (o !== id) c.network.cutBoth(id, o)
        end = () => c.network.healAll()
        break
      }
      case "split": {
        const shuffled = this.shuffle(ids)
        const k = this.random.int(1, ids.length)
        const a = shuffled.slice(0, k)
        const b = shuffled.slice(k)
        for (const x of a) for (const y of b) c.network.cutBoth(x, y)
        end = () => c.network.healAll()
        break
      }
      case "oneWay": {
        const from = this.random.pick(ids)
        const to = this.random.pick(ids.filter((x) => x !== from))
        c.network.cutOneWay(from, to)
        end = () => c.network.healAll()
        break
      }
      case "bridge": {
        // Two halves that only talk through one bridge node (openraft #2080 topology).
        const shuffled = this.shuffle(ids)
        const bridge = shuffled[0]!
        const rest = shuffled.slice(1)
        const half = Math.ceil(rest.length / 2)
        for (const x of rest.slice(0, half)) for (const y of rest.slice(half)) c.network.cutBoth(x, y)
        end = () => c.network.healAll()
        void bridge
        break
      }
      case "lossy": {
        c.network.conditions.dropRate = this.random.int(5, 40) / 100
        end = () => void (c.network.conditions.dropRate = 0)
        break
      }
      case "duplicate": {
        c.network.conditions.duplicateRate = this.random.int(5, 30) / 100
        end = () => void (c.network.conditions.duplicateRate = 0)
        break
      }
      case "slow": {
        c.network.conditions.minDelay = this.random.int(1, 30)
        c.network.conditions.jitter = this.random.int(0, 60)
        end = () => {
          c.network.conditions.minDelay = 1
          c.network.conditions.jitter = 2
        }
        break
      }
    }
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1)
    this.active.push({ kind, until, end })
  }

  private shuffle(ids: ReadonlyArray<NodeId>): Array<NodeId> {
    const a = [...ids]
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.random.int(0, i + 1)
      ;[a[i], a[j]] = [a[j]!, a[i]!]
    }
    return a
  }
}
