/**
 * What the HTTP API and the dashboard need from the process that serves them: its local nodes
 * (each a Raft node with the built-in key-value store), membership changes and leadership
 * transfer, and — in `cluster` mode, where every node runs in this process — fault controls.
 *
 * Two implementations, both in `src/cli/host`: `LocalCluster` (`kuilt cluster`: m voters in
 * one process over an in-memory fabric, so nodes can be killed, restarted, isolated and healed
 * from the page) and the one-voter server of `kuilt serve`.
 */
import { Data } from "effect"
import type { Effect } from "effect"
import type { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { KvNodeShape } from "../cli/kv/KvNode.js"
import type { NodeStatus } from "./ApiSchema.js"

/** A node this process runs: `kv` while it is up. */
export interface LocalNode {
  readonly id: string
  readonly kv: KvNodeShape | undefined
  /** Why it is down (killed from the dashboard, failed to start, ...). */
  readonly down: string | undefined
}

/** Another server of the cluster (in `serve` mode): its node id and the base URL of its API. */
export interface Peer {
  readonly id: string
  readonly url: string
}

/** The links cut by the fault controls right now. */
export interface Partitions {
  readonly isolated: ReadonlyArray<string>
  readonly cuts: ReadonlyArray<readonly [string, string]>
}

/** `cluster` mode's fault controls. Each fails with `ControlRefused` when it does not apply. */
export interface ClusterControls {
  /** Stops a node as a crash would (its storage stays). */
  readonly kill: (id: string) => Effect.Effect<void, ControlRefused>
  /** Starts a stopped node again on its storage. */
  readonly restart: (id: string) => Effect.Effect<void, ControlRefused>
  /** Cuts every link of a node (silently, as a network partition). */
  readonly isolate: (id: string) => Effect.Effect<void, ControlRefused>
  /** Cuts the link between two nodes, both ways. */
  readonly cut: (a: string, b: string) => Effect.Effect<void, ControlRefused>
  /** Removes every cut (`heal()`) or those of one node (`heal(id)`). */
  readonly heal: (id?: string) => Effect.Effect<void, ControlRefused>
  readonly partitions: Effect.Effect<Partitions>
}

/** A control that does not apply (unknown node, already up, ...). */
export class ControlRefused extends Data.TaggedError("ControlRefused")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/**
 * The operation needs the leader, which is not a node of this process: `leader` / `url` say where
 * it is when known (the client retries there).
 */
export class NotLeaderHere extends Data.TaggedError("NotLeaderHere")<{
  readonly leader: string | null
  readonly url: string | null
}> {
  override get message() {
    return this.leader === null ? "no leader is known right now; retry" : `the leader is ${this.leader}${this.url === null ? "" : ` (${this.url})`}`
  }
}

/** A membership change or transfer the cluster refused or could not finish (the reason says which). */
export class ChangeFailed extends Data.TaggedError("ChangeFailed")<{ readonly reason: string; readonly retryable: boolean }> {
  override get message() {
    return this.reason
  }
}

export type MembershipError = NotLeaderHere | ChangeFailed

export interface ClusterHostShape {
  /** `cluster` (every node here) or `serve` (one node per process). */
  readonly mode: "cluster" | "serve"
  /** A name for this process (its node id in `serve` mode). */
  readonly name: string
  /** The nodes this process runs, up or down, in a stable order. */
  readonly nodes: Effect.Effect<ReadonlyArray<LocalNode>>
  /** The other servers (empty in `cluster` mode). */
  readonly peers: ReadonlyArray<Peer>
  /**
   * The other servers' nodes as they report them (`serve` mode), for the dashboard's live feed:
   * the page shows the whole cluster whichever server it was opened on.
   */
  readonly remote?: Effect.Effect<ReadonlyArray<NodeStatus>>
  /**
   * Adds `id` as a learner (in `cluster` mode this process also starts that node and it catches
   * up); returns the new configuration once committed.
   */
  readonly addLearner: (id: string) => Effect.Effect<ClusterConfig, MembershipError>
  /** Makes learner `id` a voter (joint consensus, §6). */
  readonly promote: (id: string) => Effect.Effect<ClusterConfig, MembershipError>
  /** Removes `id` from the configuration (in `cluster` mode its node then stops). */
  readonly remove: (id: string) => Effect.Effect<ClusterConfig, MembershipError>
  /** Hands leadership to `target` (or to the most caught-up other voter); returns the new leader. */
  readonly transfer: (target: string | undefined) => Effect.Effect<string, MembershipError>
  /** Fault controls (`cluster` mode only). */
  readonly controls: ClusterControls | undefined
}
