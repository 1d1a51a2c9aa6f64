/**
 * The leader's view of one follower (Figure 2 `nextIndex[]`/`matchIndex[]`, plus etcd-style flow
 * control). `Probe`: one AppendEntries at a time until the follower's position is known.
 * `Replicate`: optimistic pipelining of up to `maxInflight` batches. `Snapshot`: an
 * InstallSnapshot transfer is in progress (`Snapshots.ts`): no AppendEntries until it completes.
 */
export type ProgressState = "Probe" | "Replicate" | "Snapshot"

export class Progress {
  match = 0
  next: number
  state: ProgressState = "Probe"
  /** Last index of each batch in flight (Replicate), oldest first. */
  readonly inflight: Array<number> = []
  /** In Probe: a probe is outstanding (cleared by a response or a heartbeat). */
  probeSent = false
  /** Heard from since the last CheckQuorum tick. */
  recentActive = false
  /** `match` moved since the last heartbeat tick (stall detection for lost pipelined batches). */
  progressed = false
  /** Highest ReadIndex round this follower echoed at the current term. */
  echoedRound = 0
  /**
   * The leader's ReadIndex round when it last received proof of `match` (an acknowledgement
   * reaching it). A frame stamped with a later round was sent after that proof arrived, hence
   * reached the follower after it sent the proof (`revealsLostEntries`).
   */
  provenRound = 0

  /** In Snapshot: the transfer's `lastIncludedIndex`, its size in bytes, and the bytes the follower acknowledged. */
  snapshotIndex = 0
  snapshotTotal = 0
  snapshotOffset = 0

  constructor(next: number) {
    this.next = next
  }

  becomeProbe(): void {
    this.state = "Probe"
    this.inflight.length = 0
    this.probeSent = false
    this.next = this.match + 1
  }

  becomeReplicate(): void {
    this.state = "Replicate"
    this.inflight.length = 0
    this.probeSent = false
    this.next = this.match + 1
  }

  /** Starts streaming the snapshot at `index` (`total` bytes) from offset 0. */
  becomeSnapshot(index: number, total: number): void {
    this.state = "Snapshot"
    this.inflight.length = 0
    this.probeSent = false
    this.snapshotIndex = index
    this.snapshotTotal = total
    this.snapshotOffset = 0
  }

  /** Can another AppendEntries with entries be sent now? */
  canSend(maxInflight: number): boolean {
    switch (this.state) {
      case "Probe":
        return !this.probeSent
      case "Replicate":
        return this.inflight.length < maxInflight
      case "Snapshot":
        return false
    }
  }

  /** Records an acknowledged match, received while the leader's round is `round`; returns true if it moved forward. */
  acknowledge(matchIndex: number, round: number): boolean {
    let moved = false
    if (matchIndex > this.match) {
      this.match = matchIndex
      moved = true
      this.progressed = true
    }
    if (matchIndex >= this.match && round > this.provenRound) this.provenRound = round
    if (this.next <= this.match) this.next = this.match + 1
    while (this.inflight.length > 0 && this.inflight[0]! <= this.match) this.inflight.shift()
    return moved
  }

  /**
   * Whether a rejection of `rejectedIndex`, answering a frame of round `round`, shows that the
   * follower no longer holds entries it acknowledged: it refuses an index at or below `match` in
   * answer to a frame sent after the proof of `match` arrived (a later round), so processed after
   * the follower sent that proof. A rejection the follower sent before its proof — reordered
   * pipelined batches, a duplicated or delayed answer — answers a frame of a round no later, and
   * is stale. Only a storage that broke its contract (lost acknowledged writes) gets here;
   * etcd-io/raft #25 describes the case. While a snapshot streams, the transfer's own
   * acknowledgement re-establishes `match` instead.
   */
  revealsLostEntries(rejectedIndex: number, round: number): boolean {
    return this.state !== "Snapshot" && rejectedIndex <= this.match && round > this.provenRound
  }

  /**
   * The follower lost acknowledged entries: nothing it acknowledged is known any more, so its
   * `match` restarts from 0 and the probe that follows re-proves its log (§5.3 consistency check)
   * before it counts toward a commit again. The leader's commit index is untouched: it never
   * moves backwards.
   */
  forgetMatch(): void {
    this.match = 0
  }
}
