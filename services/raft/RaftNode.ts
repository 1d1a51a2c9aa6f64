/**
 * The Raft service (DESIGN.md §4): one node of a replicated log.
 *
 * Observable state is `Subscribable` (`get` for now, `changes` for a stream). The committed log
 * arrives on `committed` (hot: from now on) or `committedFrom(index)` (replay, then live, with no
 * gap and no duplicate); every node emits the same sequence, and a slow consumer slows the node
 * rather than losing entries.
 */
import type { Effect, Option, Stream, Subscribable } from "effect"
import { Context } from "effect"
import type { ClientId } from "./ClientId.js"
import type { ClusterConfig } from "./ClusterConfig.js"
import type { CommandEntry, Committed } from "./LogEntry.js"
import type { NodeId } from "./NodeId.js"
import type { ClientIdCollision, LeadershipLost, NotLeader, PayloadTooLarge, StorageError } from "./RaftErrors.js"
import type { RaftRole } from "./RaftRole.js"
import type { RaftMetric, RaftTraceEvent } from "./RaftTrace.js"

export interface ProposeOptions {
  /**
   * A caller-pinned request serial under this node's client id, for exactly-once retries across
   * restarts (with a durable client identity). Omitted: the node stamps the next serial.
   */
  readonly requestId?: number
}

/** Why a node stopped on its own: it could not persist, or its durable client id is shared. */
export type RaftNodeFailure = StorageError | ClientIdCollision

export interface RaftNode {
  readonly id: NodeId
  /** The client id this node stamps on its proposals. */
  readonly clientId: Effect.Effect<ClientId>
  readonly role: Subscribable.Subscribable<RaftRole>
  /** The leader this node believes is live (informational; cleared on step-down and timeouts). */
  readonly leader: Subscribable.Subscribable<Option.Option<NodeId>>
  readonly term: Subscribable.Subscribable<number>
  /** The configuration of the latest config entry in the log, committed or not. */
  readonly membership: Subscribable.Subscribable<ClusterConfig>
  /** Monotonic. */
  readonly commitIndex: Subscribable.Subscribable<number>
  /** Index of the latest compaction (0 before any). */
  readonly compactionFloor: Subscribable.Subscribable<number>
  /** Committed entries from the moment of subscription on. */
  readonly committed: Stream.Stream<Committed>
  /** Committed entries from `fromIndex` on: replay, then live. Ends when the node closes. */
  readonly committedFrom: (fromIndex: number) => Stream.Stream<Committed>
  /** Trace events; lossy (a slow reader misses events rather than slowing the node). */
  readonly trace: Stream.Stream<RaftTraceEvent>
  /** Metric events; lossy like `trace`. The same figures are also Effect `Metric`s. */
  readonly metrics: Stream.Stream<RaftMetric>
  /**
   * Proposes a command from any role and waits until it is committed. Fails with
   * `PayloadTooLarge` (nothing entered the log), `LeadershipLost` (the leader lost its term while
   * the proposal was in flight: it may still commit, retry with the same `requestId`), or
   * `NotLeader` (the node is closed). With no known leader the call waits (interrupt it to give
   * up; a parked proposal whose caller gave up is never sent).
   */
  readonly propose: (
    command: Uint8Array,
    options?: ProposeOptions
  ) => Effect.Effect<CommandEntry, NotLeader | LeadershipLost | PayloadTooLarge>
  /** Completes when this node is leader (never on a learner). */
  readonly awaitLeadership: Effect.Effect<void>
  /** Completes with the failure that stopped the node; never completes for a healthy node. */
  readonly awaitFailure: Effect.Effect<RaftNodeFailure>
  /** Stops the node (idempotent); pending calls fail with typed errors. */
  readonly close: Effect.Effect<void>
}

/** The `RaftNode` service tag. */
export const RaftNode = Context.GenericTag<RaftNode>("kuilt/RaftNode")
