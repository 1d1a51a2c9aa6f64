/**
 * Leader stickiness (thesis §4.2.3, and §9.6 for PreVote): a voter that heard from the leader of
 * its current term less than `electionTimeoutMin` ago grants neither a pre-vote nor a vote for a
 * higher term (a leadership transfer's vote request excepted: the leader asked for it). Without
 * it a node that was cut off, or hears the leader one way only, deposes a healthy leader and the
 * terms climb (B6, B10) — a liveness bug that no safety invariant sees, so it is checked directly
 * on the wire: the contact is a leader frame the voter accepted (it follows that leader at that
 * term and took the frame as contact), the grant is the response it sent to that very request.
 */
import type { RaftMessage } from "../../codec/raft/RaftMessage.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { InvariantChecker } from "./Invariants.js"
import type { SimCluster, SimNode, SimObserver } from "./SimCluster.js"

interface Contact {
  readonly at: number
  readonly term: number
  readonly leader: NodeId
}

/** A vote request's identity (a granted answer names the same round and term). */
const requestKey = (m: RaftMessage & { readonly _tag: "PreVote" | "RequestVote" }, from: NodeId): string =>
  m._tag === "PreVote" ? `PreVote/${from}/${m.round}/${m.term}` : `RequestVote/${from}/${m.term}`

export class StickinessInvariant implements SimObserver {
  /** node → its last accepted contact from a leader. */
  private readonly contact = new Map<NodeId, Contact>()
  /** node → `${kind}/${from}` → why a grant for that request would break stickiness. */
  private readonly mustDeny = new Map<NodeId, Map<string, string>>()

  constructor(
    private readonly cluster: SimCluster,
    private readonly invariants: InvariantChecker,
    private readonly electionTimeoutMin: number
  ) {}

  onStart(node: SimNode): void {
    // A restarted node remembers no contact (the core's lease is volatile too).
    this.contact.delete(node.id)
    this.mustDeny.delete(node.id)
  }

  onDelivered(node: SimNode, from: NodeId, m: RaftMessage, termBefore: number): void {
    const core = node.core
    if (core === undefined) return
    const now = this.cluster.now
    switch (m._tag) {
      case "AppendEntries":
      case "InstallSnapshot":
        // Accepted as the leader's frame: the node follows `from` at the frame's term and took the
        // frame as contact (a frame a gate refused, or a stale duplicate, renews nothing).
        if (core.term === m.term && core.leader === from && core.role !== "Leader" && core.leaderContactAt === now) {
          this.contact.set(node.id, { at: now, term: m.term, leader: from })
        }
        return
      case "PreVote":
      case "RequestVote": {
        if (m._tag === "RequestVote" && m.leadershipTransfer) return
        const c = this.contact.get(node.id)
        if (c === undefined || c.term !== termBefore || m.term <= termBefore || now >= c.at + this.electionTimeoutMin) return
        let pending = this.mustDeny.get(node.id)
        if (pending === undefined) this.mustDeny.set(node.id, pending = new Map())
        pending.set(requestKey(m, from), `${m._tag} for term ${m.term} from ${from} ${now - c.at} ms after contact from leader ${c.leader} of term ${c.term}`)
        return
      }
      default:
        return
    }
  }

  onSend(node: SimNode, to: NodeId, m: RaftMessage): void {
    // A gate may drop a request unanswered: the answer is matched to its request, not its sender.
    const key = m._tag === "PreVoteResponse"
      ? `PreVote/${to}/${m.round}/${m.proposedTerm}`
      : m._tag === "RequestVoteResponse" && m.voteGranted
      ? `RequestVote/${to}/${m.term}`
      : undefined
    if (key === undefined) return
    const pending = this.mustDeny.get(node.id)
    const why = pending?.get(key)
    if (why === undefined) return
    pending!.delete(key)
    if ((m._tag === "PreVoteResponse" || m._tag === "RequestVoteResponse") && m.voteGranted) this.invariants.fail("LeaderStickiness", `${node.id} granted a ${why}`)
  }
}
