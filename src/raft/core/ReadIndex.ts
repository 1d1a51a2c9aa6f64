/**
 * Linearizable reads without log writes: the ReadIndex protocol of thesis §6.4, and its follower
 * variant (§6.4.1, "read fences") for followers and learners.
 *
 * The leader (1) waits until an entry of its own term is committed — its no-op — so its commit
 * index covers every entry any earlier leader committed (B2); (2) records its commit index as the
 * read index; (3) confirms it is still leader: every AppendEntries carries the current `round`,
 * followers echo it, and a read queued while the round was H is confirmed once a voter quorum
 * (both quorums while joint) echoed a round strictly above H, i.e. processed a frame sent after
 * the read arrived, at our term (B3: an older or replayed echo never counts; B4: a minority
 * leader never confirms). An echo above the current round cannot be genuine and is discarded.
 * Reads queued in one turn share one round; a heartbeat also starts a new round.
 *
 * A follower or learner asks the leader (`ReadIndexRequest`) and gets the leader's read index
 * back as a fence; the caller then waits until its own applied index reaches it. The answer is
 * accepted only from the peer asked; a request whose peer stopped being our leader is re-sent to
 * the new one (a read is idempotent), and one made with no known leader waits for one.
 *
 * A leaf: `ReadState` keeps the queues and rounds and says which reads are confirmed; the node
 * (`Requests`, `Leader`, `Roles`) admits reads, sends the rounds and answers the readers.
 */
import type { ConfigPayload } from "./Entries.js"
import type { NodeId } from "./Ids.js"
import type { Progress } from "./Progress.js"
import { quorumIndex } from "./Quorum.js"

/** Who waits for a read: a local caller's handle, or a peer's fence request. */
export type ReadOrigin =
  | { readonly _tag: "Local"; readonly handle: number }
  | { readonly _tag: "Remote"; readonly from: NodeId; readonly requestId: number }

/** A read admitted on the leader, waiting for a quorum to confirm a round above its own. */
export interface Confirming {
  readonly origin: ReadOrigin
  /** The leader's commit index when the read was admitted: the index the reader must apply to. */
  readonly index: number
  /** The round current when the read was admitted; it needs echoes of a round above this. */
  readonly round: number
}

/** The per-node read state (leader queues and, on followers, fences in flight). */
export class ReadState {
  /** The round stamped on every AppendEntries this node sends as leader (monotonic). */
  round = 0
  /** A read was admitted at the current round: start a new round at the end of the turn. */
  needRound = false
  /** Reads waiting for the leader's current-term no-op to commit (B2). */
  readonly awaitingNoOp: Array<ReadOrigin> = []
  /** Admitted reads, oldest (lowest round) first. */
  readonly confirming: Array<Confirming> = []
  /** Fence requests this node sent: handle → the peer asked. */
  readonly fences = new Map<number, NodeId>()
  /** Fence requests waiting for a known leader. */
  readonly parked: Array<number> = []

  /** Queues a read admitted at commit index `index` for confirmation by a later round. */
  queue(origin: ReadOrigin, index: number): void {
    this.confirming.push({ origin, index, round: this.round })
    this.needRound = true
  }

  /** A leader's heartbeat (or a turn's read round) is about to go out: it carries a new round. */
  nextRound(): void {
    this.round += 1
    this.needRound = false
  }

  /**
   * A follower echoed `echoedRound` at our term (`pr` is its progress). Returns whether it is new
   * evidence: an echo above anything we sent is forged or corrupt and never counts.
   */
  echo(pr: Progress, echoedRound: number): boolean {
    if (echoedRound > this.round || echoedRound <= pr.echoedRound) return false
    pr.echoedRound = echoedRound
    return true
  }

  /**
   * The queued reads a quorum has now confirmed under `config` (our own echo is the current
   * round), oldest first; `undefined` when none.
   */
  takeConfirmed(config: ConfigPayload, self: NodeId, progress: ReadonlyMap<NodeId, Progress>): Array<Confirming> | undefined {
    if (this.confirming.length === 0) return undefined
    const acked = quorumIndex(config, (id) => (id === self ? this.round : progress.get(id)?.echoedRound ?? 0))
    let out: Array<Confirming> | undefined = undefined
    while (this.confirming.length > 0 && this.confirming[0]!.round < acked) {
      ;(out ??= []).push(this.confirming.shift()!)
    }
    return out
  }

  /** Leaving leadership: every queued read, oldest first (none can be confirmed by us any more). */
  abandon(): Array<ReadOrigin> {
    const all = [...this.awaitingNoOp.splice(0), ...this.confirming.splice(0).map((q) => q.origin)]
    this.needRound = false
    return all
  }

  /** The caller of `handle` gave up. */
  cancel(handle: number): void {
    const mine = (o: ReadOrigin) => o._tag === "Local" && o.handle === handle
    removeWhere(this.awaitingNoOp, mine)
    removeWhere(this.confirming, (q) => mine(q.origin))
    removeWhere(this.parked, (h) => h === handle)
    this.fences.delete(handle)
  }
}

const removeWhere = <A>(xs: Array<A>, p: (a: A) => boolean): void => {
  const i = xs.findIndex(p)
  if (i >= 0) xs.splice(i, 1)
}
