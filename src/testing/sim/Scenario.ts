/**
 * Seed → fault schedule ("swarm testing", reference §3.6): each seed switches fault families on
 * or off and draws their intensities, then a schedule of faults that each start and later end.
 * After the fault phase comes a quiet phase in which the cluster must recover.
 */
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { SimCluster } from "./SimCluster.js"
import type { SimRandom } from "./SimRandom.js"

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

export interface FaultPlan {
  readonly families: ReadonlyArray<FaultKind>
  /** Mean ms between fault starts. */
  readonly interval: number
  /** Mean ms a fault lasts. */
  readonly duration: number
}

/** Draws which fault families a seed exercises. */
export const planFaults = (random: SimRandom): FaultPlan => {
  const all: ReadonlyArray<FaultKind> = ["crash", "isolate", "split", "oneWay", "bridge", "pause", "lossy", "duplicate", "slow"]
  const families = all.filter(() => random.chance(0.5))
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
    readonly plan: FaultPlan
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

  private start(now: number): void {
    const kind = this.random.pick(this.plan.families)
    const c = this.cluster
    const ids = [...c.nodes.keys()]
    const until = now + this.random.int(this.plan.duration / 2, this.plan.duration * 2)
    const upIds = ids.filter((id) => c.nodes.get(id)!.core !== undefined)
    // Never take down a majority by crashes or pauses: then nothing could progress, which is not
    // a bug; partitions may, since healing them is part of every fault's end.
    const downCount = ids.length - upIds.filter((id) => !c.nodes.get(id)!.paused).length
    const canTakeDown = downCount + 1 <= Math.floor((ids.length - 1) / 2)
    let end: () => void
    switch (kind) {
      case "crash": {
        if (!canTakeDown || upIds.length === 0) return
        const id = this.random.pick(upIds)
        c.crash(id)
        end = () => c.restart(id)
        break
      }
      case "pause": {
        if (!canTakeDown || upIds.length === 0) return
        const id = this.random.pick(upIds)
        c.pause(id)
        end = () => c.resume(id)
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
