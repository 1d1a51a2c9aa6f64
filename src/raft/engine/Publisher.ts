/**
 * What the engine shows the world after each turn: state cells (role, leader, term, membership,
 * commit index, compaction floor) set only on change, so subscribers see transitions; the
 * committed stream's watermark (`CommittedFeed`: subscribers pull, the engine never waits for
 * them); the lossy trace and metric streams. Trace and metric streams without subscribers are
 * neither built nor published (`listen` counts them), and the core then skips its per-entry trace
 * events too.
 */
import { Effect, Option, PubSub } from "effect"
import type { Queue, Scope } from "effect"
import { ClusterConfig } from "../../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../../services/raft/NodeId.js"
import type { RaftRole } from "../../../services/raft/RaftRole.js"
import type { RaftMetric, RaftTraceEvent } from "../../../services/raft/RaftTrace.js"
import type { RaftCore } from "../core/RaftCore.js"
import type { Cell } from "../../internal/Cell.js"
import { CommittedFeed } from "./CommittedFeed.js"

/** The observable surfaces the engine publishes after every turn. */
export interface Surfaces {
  readonly role: Cell<RaftRole>
  readonly leader: Cell<Option.Option<NodeId>>
  readonly term: Cell<number>
  readonly membership: Cell<ClusterConfig>
  readonly commitIndex: Cell<number>
  readonly compactionFloor: Cell<number>
  readonly trace: PubSub.PubSub<RaftTraceEvent>
  readonly metrics: PubSub.PubSub<RaftMetric>
}

export class Publisher {
  /** Live subscriptions of each stream (`listen`): nothing is built or published for none. */
  private readonly listeners = { trace: 0, metrics: 0 }
  /** The committed stream: a watermark the engine moves and subscribers pull from. */
  readonly feed: CommittedFeed
  private readonly last = { role: "" as string, leader: undefined as NodeId | undefined, term: -1, commit: -1, config: undefined as unknown, floor: -1 }
  private readonly leadershipWaiters: Array<() => void> = []

  constructor(
    private readonly core: RaftCore,
    readonly surfaces: Surfaces
  ) {
    core.tracing = false
    core.metering = false
    this.feed = new CommittedFeed(core)
  }

  /**
   * Subscribes to one of the engine's streams, counting the subscription while it lasts. With no
   * subscriber a PubSub drops what is published, so the engine skips building and publishing
   * those items (and the core its per-entry trace events) instead. The count goes up before the
   * subscription exists and down after it is gone, so a subscriber never misses what it would
   * have seen.
   */
  listen<K extends keyof Publisher["listeners"]>(
    which: K
  ): Effect.Effect<Queue.Dequeue<Surfaces[K] extends PubSub.PubSub<infer A> ? A : never>, never, Scope.Scope> {
    const count = (delta: number) =>
      Effect.sync(() => {
        this.listeners[which] += delta
        this.core.tracing = this.listeners.trace > 0
        this.core.metering = this.listeners.metrics > 0
      })
    return Effect.zipRight(
      Effect.acquireRelease(count(1), () => count(-1)),
      PubSub.subscribe(this.surfaces[which] as PubSub.PubSub<any>)
    )
  }

  /** Completes once this node is leader (at once if it is). */
  readonly awaitLeadership: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.core.role === "Leader") return resume(Effect.void)
    const w = () => resume(Effect.void)
    this.leadershipWaiters.push(w)
    return Effect.sync(() => {
      const i = this.leadershipWaiters.indexOf(w)
      if (i >= 0) this.leadershipWaiters.splice(i, 1)
    })
  })

  /** Pushes changed state into the cells (only on change: subscribers see transitions). */
  state(): void {
    const c = this.core
    const s = this.surfaces
    const l = this.last
    if (c.role !== l.role) {
      l.role = c.role
      s.role.set(c.role)
      if (c.role === "Leader") for (const w of this.leadershipWaiters.splice(0)) w()
    }
    if (c.leader !== l.leader) {
      l.leader = c.leader
      s.leader.set(Option.fromNullable(c.leader))
    }
    if (c.term !== l.term) {
      l.term = c.term
      s.term.set(c.term)
    }
    if (c.commitIndex !== l.commit) {
      l.commit = c.commitIndex
      s.commitIndex.set(c.commitIndex)
    }
    if (c.config !== l.config) {
      // By identity: a rollback can land on another config at the same index.
      l.config = c.config
      s.membership.set(ClusterConfig.from(c.config.new))
    }
    if (c.log.snapshotIndex !== l.floor) {
      l.floor = c.log.snapshotIndex
      s.compactionFloor.set(c.log.snapshotIndex)
    }
  }

  /** The turn's committed entries (and installed snapshot) are durable: subscribers may read them. */
  committed(): void {
    this.feed.publish()
  }

  /** Publishes trace events; `undefined` when there is nothing to do. */
  trace(events: ReadonlyArray<RaftTraceEvent>): Effect.Effect<boolean> | undefined {
    return events.length > 0 && this.listeners.trace > 0 ? PubSub.publishAll(this.surfaces.trace, events) : undefined
  }

  /** Publishes metric events; `undefined` when there is nothing to do. */
  metrics(events: ReadonlyArray<RaftMetric>): Effect.Effect<boolean> | undefined {
    return events.length > 0 && this.listeners.metrics > 0 ? PubSub.publishAll(this.surfaces.metrics, events) : undefined
  }

  /** A stopped node leads nothing and follows no one; its streams end. */
  close(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      // Say so rather than freeze the last state.
      if (this.core.role === "Leader" || this.core.role === "Candidate") this.surfaces.role.set("Follower")
      this.surfaces.leader.set(Option.none())
      this.feed.close()
      yield* PubSub.shutdown(this.surfaces.trace)
      yield* PubSub.shutdown(this.surfaces.metrics)
    })
  }
}
