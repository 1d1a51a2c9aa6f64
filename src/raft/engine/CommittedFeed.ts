/**
 * The committed stream, without a buffer between the node and its consumers.
 *
 * The engine only moves a watermark (`through`: the highest index handed out, set once the turn
 * that emitted it is durable) and wakes the subscribers that wait for it. Each subscriber of
 * `committed` / `committedFrom(i)` owns a cursor and pulls slices straight from the node's
 * in-memory log on its own fiber (`Snapshots.readCommitted`: synchronous, no mailbox round trip).
 * So no consumer, however slow, holds up the engine or consensus, and a node restarted on a long
 * log replays it to any number of subscribers without deadlock.
 *
 * A subscriber that falls behind the compaction floor (the entries at its cursor were replaced by
 * a snapshot, its own consumer's or one installed from the leader) receives
 * `Install(latest snapshot)` and continues after it. Every subscriber sees every index once, in
 * order, each index either as its entry or inside an `Install`.
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type { Committed } from "../../../services/raft/LogEntry.js"
import type { RaftCore } from "../core/RaftCore.js"
import { readCommitted } from "../core/Snapshots.js"

/** Most items one pull hands a subscriber (one chunk of its stream). */
const PULL_MAX = 4096

export class CommittedFeed {
  /** The highest index subscribers may read (emitted by a turn whose writes are durable). */
  through: number
  private closed = false
  private readonly waiters = new Set<() => void>()

  constructor(private readonly core: RaftCore) {
    this.through = core.lastEmitted
  }

  /** Engine side, after a turn's write: what the core emitted may now be read. Never blocks. */
  publish(): void {
    const t = this.core.lastEmitted
    if (t === this.through) return
    this.through = t
    this.wakeAll()
  }

  /** The node closed: subscribers drain what was handed out, then their streams end. */
  close(): void {
    this.closed = true
    this.wakeAll()
  }

  private wakeAll(): void {
    if (this.waiters.size === 0) return
    const ws = [...this.waiters]
    this.waiters.clear()
    for (const w of ws) w()
  }

  /** Completes once `through` moved past `seen` or the feed closed (at once if it already did). */
  private wait(seen: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (this.through !== seen || this.closed) return resume(Effect.void)
      const w = () => resume(Effect.void)
      this.waiters.add(w)
      return Effect.sync(() => void this.waiters.delete(w))
    })
  }

  /** A stream whose first index is `start()` (evaluated when the stream starts running). */
  stream(start: () => number): Stream.Stream<Committed> {
    return Stream.suspend(() => {
      let cursor = Math.max(1, start())
      const pull = (): Effect.Effect<Chunk.Chunk<Committed>, Option.Option<never>> =>
        Effect.suspend(() => {
          const seen = this.through
          const cut = readCommitted(this.core, cursor, seen, PULL_MAX)
          if (cut.items.length > 0) {
            cursor = cut.upTo + 1
            return Effect.succeed(Chunk.unsafeFromArray(cut.items))
          }
          if (this.closed) return Effect.fail(Option.none())
          return Effect.zipRight(this.wait(seen), pull())
        })
      return Stream.repeatEffectChunkOption(pull())
    })
  }

  /** Committed items from the moment the stream starts on. */
  live(): Stream.Stream<Committed> {
    return this.stream(() => this.through + 1)
  }
}
