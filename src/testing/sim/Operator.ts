/**
 * The simulated operator: changes membership and transfers leadership through the core API, as a
 * person with an admin tool would — asking the node it believes leads (sometimes another one),
 * computing the target from the configuration it last saw committed, and retrying later when
 * told `NotLeader` or `InProgress`. Outcomes are only counted: refusals are part of the API.
 *
 * Membership moves (swarm family `membership`): add a learner (a spare or a removed node),
 * promote a learner, remove a learner, add a voter directly (joint consensus), remove a voter
 * (possibly the leader itself), swap one voter for another — always keeping 3..7 voters.
 * Transfers (family `transfer`): to a random voter, sometimes to an invalid target, sometimes
 * cancelled.
 *
 * Disk loss (family `diskLoss`, reference §3.6 and B8): the engine treats an acknowledged write
 * as durable, so a node that lost acknowledged writes must never rejoin under its old identity —
 * its lost votes and acknowledgements could elect two leaders in a term or un-commit an entry.
 * The operator therefore retires the identity and re-images the machine: a NEW node starts over
 * the damaged disk as a joiner, is added as a learner and then swapped in for the lost voter
 * through joint consensus. One replacement at a time; other membership moves wait for it.
 */
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { MembershipResolution } from "../../raft/core/Membership.js"
import type { RaftCore } from "../../raft/core/RaftCore.js"
import type { Resolution } from "../../raft/core/Ready.js"
import type { SimCluster, SimNode, SimObserver } from "./SimCluster.js"
import type { SimRandom } from "./SimRandom.js"

export interface OperatorOptions {
  readonly membership: boolean
  readonly transfer: boolean
  /** Mean ms between operator actions. */
  readonly interval: number
}

const MIN_VOTERS = 3
const MAX_VOTERS = 7

/** A node started with no voters and itself as a learner: it waits for a leader to add it. */
export const joiner = (id: string): ClusterConfig => ClusterConfig.of([], [id])

export class Operator implements SimObserver {
  /** The configuration the operator last saw committed. */
  view: ClusterConfig
  /** A lost voter being replaced by a fresh identity over its disk. */
  replacement: { readonly lost: NodeId; readonly fresh: NodeId } | undefined = undefined
  readonly counts = new Map<string, number>()
  private readonly pending = new Map<number, "membership" | "transfer" | "replace">()
  private nextAt: number
  private nextReplaceAt = Infinity
  private stopped = false
  private nextId: number

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SimRandom,
    readonly options: OperatorOptions,
    initial: ClusterConfig
  ) {
    this.view = initial
    this.nextId = cluster.nodes.size + 1
    this.nextAt = options.membership || options.transfer ? random.int(100, options.interval * 2) : Infinity
  }

  private count(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1)
  }

  nextEventAt(): number {
    return Math.min(this.stopped ? Infinity : this.nextAt, this.nextReplaceAt)
  }

  /** The quiet phase: no new moves (a replacement under way still completes). */
  stop(): void {
    this.stopped = true
  }

  /** Nodes clients may talk to: members of the configuration as the operator knows it. */
  eligible(): Array<NodeId> {
    const out: Array<NodeId> = []
    for (const n of this.cluster.nodes.values()) {
      if (!n.retired && this.view.isMember(n.id)) out.push(n.id)
    }
    return out.length > 0 ? out : [...this.cluster.nodes.keys()]
  }

  /** The voter sets whose majorities faults must leave up (both halves while joint). */
  voterSets(): Array<ReadonlySet<NodeId>> {
    const sets: Array<ReadonlySet<NodeId>> = [this.view.voters]
    const l = this.leader()
    if (l !== undefined) {
      sets.push(l.config.new.voters)
      if (l.config.old !== undefined) sets.push(l.config.old.voters)
    }
    return sets
  }

  canLoseDisk(): boolean {
    return this.replacement === undefined && ![...this.cluster.nodes.values()].some((n) => n.retired && this.view.isMember(n.id))
  }

  /** The machine of `id` crashes losing all but `keep` pending writes; its disk gets a new name. */
  loseDisk(id: NodeId, keep: number): void {
    const lost = this.cluster.node(id)
    const dropped = Math.max(0, lost.disk.pendingBatches - keep)
    this.cluster.crash(id, keep)
    this.counts.set("diskLoss:lostBatches", (this.counts.get("diskLoss:lostBatches") ?? 0) + dropped)
    lost.retired = true
    const fresh = `n${this.nextId++}`
    this.cluster.addNode(fresh, joiner(fresh), lost.disk, [...this.view.voters].filter((v) => v !== id))
    this.replacement = { lost: id, fresh: fresh as NodeId }
    this.nextReplaceAt = this.cluster.now + this.random.int(5, 50)
    this.count("diskLoss")
  }

  /** The running leader of the highest term (what `membership` of a real cluster would report). */
  private leader(): RaftCore | undefined {
    let best: RaftCore | undefined
    for (const n of this.cluster.nodes.values()) {
      const c = n.core
      if (c === undefined || n.paused || c.role !== "Leader") continue
      if (best === undefined || c.term > best.term) best = c
    }
    return best
  }

  /** Refreshes the view from the leader when its configuration is committed and not joint. */
  private refresh(): RaftCore | undefined {
    const l = this.leader()
    if (l !== undefined && l.config.old === undefined && l.configIndex <= l.commitIndex) this.view = ClusterConfig.from(l.config.new)
    return l
  }

  /** Whom to ask: usually the leader, sometimes any running node (which should refuse). */
  private addressee(l: RaftCore | undefined): string | undefined {
    if (l !== undefined && this.random.chance(0.85)) return l.id
    const up = this.cluster.up.filter((n) => !n.paused && !n.retired)
    return up.length === 0 ? undefined : this.random.pick(up).id
  }

  tick(now: number): void {
    if (now >= this.nextReplaceAt) {
      this.nextReplaceAt = Infinity
      this.driveReplacement()
    }
    if (this.stopped || now < this.nextAt) return
    this.nextAt = now + this.random.int(this.options.interval >> 1, this.options.interval * 2)
    const kinds: Array<"membership" | "transfer"> = []
    if (this.options.membership && this.replacement === undefined) kinds.push("membership")
    if (this.options.transfer) kinds.push("transfer")
    if (kinds.length === 0) return
    if (this.random.pick(kinds) === "membership") this.changeMembership()
    else this.transfer()
  }

  private driveReplacement(): void {
    const r = this.replacement
    if (r === undefined) return
    const l = this.refresh()
    const v = this.view
    let target: ClusterConfig
    if (!v.isMember(r.fresh)) {
      target = ClusterConfig.of(v.voters, [...v.learners, r.fresh])
    } else if (v.isMember(r.lost) || !v.voters.has(r.fresh)) {
      const voters = [...v.voters].filter((x) => x !== r.lost)
      target = ClusterConfig.of([...voters, r.fresh], [...v.learners].filter((x) => x !== r.fresh && x !== r.lost))
    } else {
      this.replacement = undefined
      this.count("replaced")
      return
    }
    this.request("replace", target, l)
    this.nextReplaceAt = this.cluster.now + this.random.int(30, 150)
  }

  private changeMembership(): void {
    const l = this.refresh()
    const v = this.view
    const voters = [...v.voters]
    const learners = [...v.learners]
    const pool = [...this.cluster.nodes.values()].filter((n) => !n.retired && !v.isMember(n.id))
    const upPool = pool.filter((n) => n.core !== undefined)
    const spare = (upPool.length > 0 ? upPool : pool).map((n) => n.id)
    const moves: Array<[string, number]> = []
    if (spare.length > 0) moves.push(["addLearner", 2])
    if (learners.length > 0 && voters.length < MAX_VOTERS) moves.push(["promote", 3])
    if (learners.length > 0) moves.push(["removeLearner", 1])
    if (spare.length > 0 && voters.length < MAX_VOTERS) moves.push(["addVoter", 1])
    if (voters.length > MIN_VOTERS) moves.push(["removeVoter", 2])
    if (spare.length > 0) moves.push(["swap", 1])
    if (moves.length === 0) return
    let roll = this.random.int(0, moves.reduce((a, [, w]) => a + w, 0))
    let move = moves[0]![0]
    for (const [m, w] of moves) {
      if (roll < w) {
        move = m
        break
      }
      roll -= w
    }
    const without = (xs: ReadonlyArray<NodeId>, x: NodeId) => xs.filter((y) => y !== x)
    let target: ClusterConfig
    switch (move) {
      case "addLearner":
        target = ClusterConfig.of(voters, [...learners, this.random.pick(spare)])
        break
      case "promote": {
        const x = this.random.pick(learners)
        target = ClusterConfig.of([...voters, x], without(learners, x))
        break
      }
      case "removeLearner":
        target = ClusterConfig.of(voters, without(learners, this.random.pick(learners)))
        break
      case "addVoter":
        target = ClusterConfig.of([...voters, this.random.pick(spare)], learners)
        break
      case "removeVoter":
        target = ClusterConfig.of(without(voters, this.random.pick(voters)), learners)
        break
      default: {
        const out = this.random.pick(voters)
        target = ClusterConfig.of([...without(voters, out), this.random.pick(spare)], learners)
      }
    }
    this.count(`move:${move}`)
    // A spare joins through the voters the operator knows now (it trusts nobody else).
    for (const id of target.allMembers) if (!v.isMember(id)) this.cluster.reprovision(id, voters)
    this.request("membership", target, l)
  }

  private request(kind: "membership" | "replace", target: ClusterConfig, l: RaftCore | undefined): void {
    const to = this.addressee(l)
    if (to === undefined) return
    const handle = this.cluster.nextHandle()
    this.pending.set(handle, kind)
    if (!this.cluster.changeMembership(to, handle, target)) this.pending.delete(handle)
  }

  private transfer(): void {
    const l = this.leader()
    const to = this.addressee(l)
    if (to === undefined) return
    const from = this.cluster.node(to).core!
    const roll = this.random.next()
    if (roll < 0.05 && from.transfer !== undefined) {
      this.count("transfer:cancel")
      this.cluster.cancelTransfer(to)
      return
    }
    const voters = [...from.config.new.voters].filter((x) => x !== from.id)
    const others = [...this.cluster.nodes.keys()].filter((x) => x !== from.id && !voters.includes(x))
    // Mostly a real voter; sometimes a learner, stranger or itself (InvalidTarget).
    const target = roll < 0.9 && voters.length > 0
      ? this.random.pick(voters)
      : others.length > 0 && roll < 0.97
      ? this.random.pick(others)
      : from.id
    const handle = this.cluster.nextHandle()
    this.pending.set(handle, "transfer")
    if (!this.cluster.transferLeadership(to, handle, target)) this.pending.delete(handle)
  }

  onMembership(_node: SimNode, r: MembershipResolution): void {
    const kind = this.pending.get(r.handle)
    if (kind === undefined) return
    this.pending.delete(r.handle)
    this.count(`${kind}:${r.outcome._tag}`)
    if (r.outcome._tag === "Changed") this.view = ClusterConfig.from(r.outcome.config)
  }

  onResolved(_node: SimNode, r: Resolution): void {
    if (this.pending.get(r.handle) !== "transfer") return
    this.pending.delete(r.handle)
    const o = r.outcome
    this.count(`transfer:${o._tag}${o._tag === "TransferFailed" ? `:${o.reason}` : ""}`)
  }
}
