/**
 * Received frames waiting for the drive loop, in two lanes (issue "the core comes first"):
 *
 * - `control`: small frames from voters of the configuration in force — heartbeats, votes and
 *   pre-votes, acknowledgements, read-index rounds, leadership transfer. A turn handles all of them
 *   before anything else, so a leader's CheckQuorum and a follower's election timer never fire
 *   while the evidence that would stop them waits behind bulk work.
 * - `bulk`: everything that carries per-entry work (AppendEntries with entries, snapshot chunks,
 *   forwarded proposals and their answers) and every frame of a non-voter (learners, joiners,
 *   strangers). A turn takes them in arrival order until its budget is spent.
 *
 * Within a lane frames keep their arrival order. A control frame may overtake a bulk frame of the
 * same sender; Raft tolerates any reordering (the simulator's network reorders freely), and the
 * cases that matter are benign: a heartbeat is anchored at the follower's acknowledged match, so it
 * never depends on an append still in flight.
 */
export class FrameQueue<F> {
  private froms: Array<string | undefined> = []
  private frames: Array<F | undefined> = []
  private weights: Array<number> = []
  private head = 0
  private count = 0

  get size(): number {
    return this.count - this.head
  }

  push(from: string, frame: F, weight: number): void {
    const i = this.count++
    this.froms[i] = from
    this.frames[i] = frame
    this.weights[i] = weight
  }

  /** Weight of the oldest frame (the queue must not be empty). */
  peekWeight(): number {
    return this.weights[this.head]!
  }

  /** Hands the oldest frame to `f` and removes it (the queue must not be empty). */
  shift(f: (from: string, frame: F) => void): void {
    const i = this.head++
    const from = this.froms[i]!
    const frame = this.frames[i]!
    this.froms[i] = undefined
    this.frames[i] = undefined
    if (this.head === this.count) {
      this.head = 0
      this.count = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.count) {
      this.compact()
    }
    f(from, frame)
  }

  /** Everything queued is dropped (the node stopped). */
  clear(): void {
    this.froms = []
    this.frames = []
    this.weights = []
    this.head = 0
    this.count = 0
  }

  private compact(): void {
    const n = this.count - this.head
    this.froms.copyWithin(0, this.head, this.count)
    this.frames.copyWithin(0, this.head, this.count)
    this.weights.copyWithin(0, this.head, this.count)
    this.froms.length = n
    this.frames.length = n
    this.weights.length = n
    this.head = 0
    this.count = n
  }
}
