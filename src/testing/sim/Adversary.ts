/**
 * The adversary family: peers that are not members of the configuration — strangers who joined
 * the room (`x1`, `x2`), and removed members (nodes the committed configuration no longer lists)
 * — sending frames crafted to do the most harm, with full knowledge of their target's state:
 *
 * - AppendEntries that extend the target's log exactly (its last index and term) with forged
 *   commands at a higher term and a commit index covering them, or that overwrite its
 *   uncommitted suffix;
 * - InstallSnapshot of a forged state beyond the target's commit, with a configuration naming
 *   the adversary as sole voter;
 * - RequestVote / PreVote with inflated terms and logs, TimeoutNow at the target's term;
 * - Forward of a forged write (a put of a value no client wrote, under a forged or a real client
 *   id) and ReadIndexRequest;
 * - unsolicited Vouch naming the adversary as leader, VouchRequest;
 * - replays of frames members sent, under a stranger's id;
 * - garbage: random bytes and bit-flipped real frames, delivered when they happen to decode.
 *
 * A removed member only targets nodes that know of its removal (for which it is a stranger): to a
 * node still listing it, it would be a lying member, which is out of scope. The check runs again
 * at delivery (`SimCluster.dropDue`), as the operator may re-add it while a frame is in flight.
 *
 * Invariant `NoTermFromStranger`: a member's term never moves while it handles a frame from an
 * adversary. Every other invariant and the linearizability check must hold as they do without
 * adversaries (a forged write that got applied would show as a value no client wrote).
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import { decodeRaftMessage, encodeRaftMessage } from "../../codec/raft/RaftCodec.js"
import type { ClientId } from "../../../services/raft/ClientId.js"
import { ClusterConfig, ConfigPayload } from "../../../services/raft/ClusterConfig.js"
import type { CommandEntry } from "../../../services/raft/LogEntry.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftCore } from "../../raft/core/RaftCore.js"
import { knows } from "../../raft/core/Trust.js"
import type { InvariantChecker } from "./Invariants.js"
import { encodeKvCommand, KvStateMachine } from "./KvStateMachine.js"
import type { SimCluster, SimNode, SimObserver } from "./SimCluster.js"
import type { InFlight } from "./SimNetwork.js"
import type { SimRandom } from "./SimRandom.js"

/** The strangers' ids: never members, never anyone's `joinVia`. */
export const STRANGERS: ReadonlyArray<NodeId> = ["x1", "x2"] as Array<NodeId>

const REPLAY_RING = 64
const EVIL_CLIENT = "evil" as ClientId

export class Adversary implements SimObserver {
  /** Frames sent, by kind; and frames members refused from adversaries, by gate. */
  readonly sent = new Map<string, number>()
  readonly refused = new Map<string, number>()
  private nextAt: number
  private readonly captured: Array<{ readonly to: NodeId; readonly message: RaftMessage }> = []
  private evilSeq = 0

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SimRandom,
    private readonly invariants: InvariantChecker,
    /** Mean ms between forged frames. */
    private readonly interval: number,
    /** Is `id` a member of the configuration the operator last saw committed? */
    private readonly isMemberNow: (id: NodeId) => boolean
  ) {
    this.nextAt = random.int(20, interval * 2)
    cluster.dropDue = (m) => this.beforeDelivery(m)
  }

  nextEventAt(): number {
    return this.nextAt
  }

  /** Is `from` an adversary towards `to`'s current state (a stranger to it)? */
  private strangerTo(from: NodeId, core: RaftCore): boolean {
    return from !== core.id && !knows(core, from) && core.vouch.vouched?.leader !== from
  }

  private isAdversaryId(id: NodeId): boolean {
    return STRANGERS.includes(id) || this.removedIds().includes(id)
  }

  /** Nodes the committed configuration no longer lists (and never re-added since). */
  private removedIds(): Array<NodeId> {
    const out: Array<NodeId> = []
    for (const n of this.cluster.nodes.values()) if (!this.isMemberNow(n.id) && this.everMember.has(n.id)) out.push(n.id)
    return out
  }

  /** Every node that was ever a member (set by `runSeed` through `onStep`). */
  private readonly everMember = new Set<NodeId>()

  /** Forged frames (each a distinct object, so a duplicate on the wire is one too). */
  private readonly forged = new WeakSet<RaftMessage>()
  /** Whether the frame being delivered comes from a stranger to its target (set just before). */
  private fromStranger = false

  /**
   * Called right before each delivery: withdraws a forged frame whose sender is no longer a
   * stranger to its target, and notes whether the frame comes from one (for `onDelivered`).
   */
  private beforeDelivery(m: InFlight): boolean {
    const core = this.cluster.nodes.get(m.to)?.core
    const stranger = core !== undefined && this.isAdversaryId(m.from) && this.strangerTo(m.from, core)
    if (this.forged.has(m.message) && !stranger) return true
    this.fromStranger = stranger
    return false
  }

  tick(now: number): void {
    if (now < this.nextAt) return
    this.nextAt = now + this.random.int(1, this.interval * 2)
    const targets = this.cluster.up.filter((n) => !n.paused)
    if (targets.length === 0) return
    const target = this.random.pick(targets)
    const core = target.core!
    const candidates = [...STRANGERS, ...this.removedIds()].filter((id) => this.strangerTo(id, core))
    if (candidates.length === 0) return
    const from = this.random.pick(candidates)
    const message = this.forge(core, from)
    if (message === undefined) return
    this.sent.set(message.kind, (this.sent.get(message.kind) ?? 0) + 1)
    if (!STRANGERS.includes(from)) this.sent.set("asRemovedMember", (this.sent.get("asRemovedMember") ?? 0) + 1)
    // A fresh object per forged frame (a replay copies the member's), so it can be recognised.
    const frame = { ...message.frame } as RaftMessage
    this.forged.add(frame)
    this.cluster.network.send(this.cluster.now, from, target.id, frame)
  }

  private forge(core: RaftCore, from: NodeId): { readonly kind: string; readonly frame: RaftMessage } | undefined {
    const r = this.random
    const jump = r.chance(0.3) ? 0 : r.int(1, core.cfg.maxTermJump + 10)
    const term = core.term + jump
    const last = core.log.lastIndex
    switch (r.int(0, 12)) {
      case 0:
      case 1: {
        // Extend the target's log exactly, or overwrite its uncommitted suffix.
        const overwrite = r.chance(0.3) && core.commitIndex < last
        const prev = overwrite ? core.commitIndex : last
        const prevTerm = core.log.termAt(prev) ?? core.log.snapshotTerm
        const n = r.int(1, 4)
        const entries = Array.from({ length: n }, (_, i): CommandEntry => this.evilEntry(prev + 1 + i, Math.max(term, prevTerm)))
        return {
          kind: "AppendEntries",
          frame: { _tag: "AppendEntries", term: Math.max(term, prevTerm), prevLogIndex: prev, prevLogTerm: prevTerm, entries, leaderCommit: prev + n, round: r.int(0, 1000) }
        }
      }
      case 2: {
        const sm = new KvStateMachine()
        sm.data.set("k0", `evil.${++this.evilSeq}`)
        const data = sm.snapshot()
        return {
          kind: "InstallSnapshot",
          frame: {
            _tag: "InstallSnapshot",
            term,
            lastIncludedIndex: core.commitIndex + r.int(1, 20),
            lastIncludedTerm: Math.max(1, term),
            offset: 0,
            totalBytes: data.byteLength,
            data,
            done: true,
            config: ConfigPayload.make({ new: ClusterConfig.ofVoters(from) }),
            round: 0
          }
        }
      }
      case 3:
        return {
          kind: "RequestVote",
          frame: { _tag: "RequestVote", term: term + 1, lastLogIndex: last + 1000, lastLogTerm: term + 1, leadershipTransfer: r.chance(0.5) }
        }
      case 4:
        return { kind: "PreVote", frame: { _tag: "PreVote", term: term + 1, lastLogIndex: last + 1000, lastLogTerm: term + 1, round: r.int(0, 1000) } }
      case 5:
        return { kind: "TimeoutNow", frame: { _tag: "TimeoutNow", term: core.term } }
      case 6: {
        const entry = this.evilEntry(0, 0)
        return { kind: "Forward", frame: { _tag: "Forward", clientRequestId: r.int(1, 1_000_000), command: entry.command, dedupKey: entry.dedupKey } }
      }
      case 7:
        return { kind: "ReadIndexRequest", frame: { _tag: "ReadIndexRequest", requestId: r.int(1, 1_000_000) } }
      case 8:
        return r.chance(0.5)
          ? { kind: "Vouch", frame: { _tag: "Vouch", term: term + 1, leader: from } }
          : { kind: "VouchRequest", frame: { _tag: "VouchRequest", term } }
      case 9:
      case 10: {
        // A frame a member really sent, replayed under the adversary's id.
        if (this.captured.length === 0) return undefined
        return { kind: "Replay", frame: r.pick(this.captured).message }
      }
      default:
        return this.garbage()
    }
  }

  /** A forged write: a put of a value no client wrote, under a forged or a real client's id. */
  private evilEntry(index: number, term: number): CommandEntry {
    const seq = ++this.evilSeq
    const members = [...this.cluster.nodes.values()].filter((n) => n.core !== undefined).map((n) => n.core!.clientId)
    const clientId = members.length > 0 && this.random.chance(0.5) ? this.random.pick(members) : EVIL_CLIENT
    return {
      _tag: "Command",
      index,
      term,
      command: encodeKvCommand({ client: "evil", seq, op: { type: "put", key: `k${this.random.int(0, 4)}`, value: `evil.${seq}` } }),
      dedupKey: { clientId, requestId: 1_000_000 + seq }
    }
  }

  /** Random bytes, or a real frame with flipped bits: delivered only if it decodes (as the engine would). */
  private garbage(): { readonly kind: string; readonly frame: RaftMessage } | undefined {
    const r = this.random
    let bytes: Uint8Array
    if (this.captured.length > 0 && r.chance(0.7)) {
      bytes = encodeRaftMessage(r.pick(this.captured).message).slice()
      const flips = r.int(1, 4)
      for (let i = 0; i < flips; i++) bytes[r.int(0, bytes.length)]! ^= 1 << r.int(0, 8)
    } else {
      bytes = new Uint8Array(r.int(0, 64))
      for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(0, 256)
    }
    const decoded = decodeRaftMessage(bytes)
    this.sent.set("GarbageUndecodable", (this.sent.get("GarbageUndecodable") ?? 0) + (decoded._tag === "Left" ? 1 : 0))
    return decoded._tag === "Right" ? { kind: "Garbage", frame: decoded.right } : undefined
  }

  // ---------------------------------------------------------------- observer

  onSend(node: SimNode, to: NodeId, message: RaftMessage): void {
    if (this.captured.length >= REPLAY_RING) this.captured.splice(0, 1)
    this.captured.push({ to, message })
    void node
  }

  onStep(node: SimNode): void {
    if (this.isMemberNow(node.id)) this.everMember.add(node.id)
  }

  onTrace(_node: SimNode, events: ReadonlyArray<RaftTraceEvent>): void {
    for (const e of events) {
      if (e._tag === "FrameRefused" && this.isAdversaryId(e.from)) this.refused.set(e.gate, (this.refused.get(e.gate) ?? 0) + 1)
    }
  }

  onDelivered(node: SimNode, from: NodeId, message: RaftMessage, termBefore: number): void {
    if (!this.fromStranger) return
    this.fromStranger = false
    const core = node.core
    if (core !== undefined && core.term !== termBefore) {
      this.invariants.fail("NoTermFromStranger", `${node.id} moved from term ${termBefore} to ${core.term} on ${message._tag} from ${from}`)
    }
  }
}
