/**
 * The server cluster's contract: what a server of the voter core offers its operator (the
 * constructor, `serverCluster`, is Node's: `kuilt/node`).
 *
 * One server runs the voters it owns (all m of them in one process, or one per process), their
 * durable storage, their pair links to the other voters (`VoterMesh`) and an endpoint for learner
 * clients on the same port. Safety depends only on the voter quorum; clients are an availability
 * matter (a client's link to its server, even none during a failover, never threatens it).
 */
import type { Effect, Option, Stream, Subscribable } from "effect"
import type { ClusterConfig } from "../raft/ClusterConfig.js"
import type { Committed } from "../raft/LogEntry.js"
import type { NodeId } from "../raft/NodeId.js"
import type { RaftNodeShape } from "../raft/RaftNode.js"
import type { RaftRole } from "../raft/RaftRole.js"
import type { MeshLinkStatus } from "./VoterMesh.js"

/**
 * Frames a server refused or dropped, by cause. The first-hop check refuses what a client may not
 * send: frames naming another origin than the client (`refusedOrigin`: speaking as a voter or as
 * another client), for a destination that is not a voter (`refusedDest`), carrying a Raft message only a voter sends
 * (`refusedKind`: votes, leader frames), of a server's type or
 * undecodable (`refusedMalformed`); `refusedMesh` counts voter-link frames that broke the one-hop rules.
 */
export interface ClusterFrameCounters {
  readonly refusedOrigin: number
  readonly refusedDest: number
  readonly refusedKind: number
  readonly refusedMalformed: number
  readonly refusedMesh: number
  readonly relayedUp: number
  readonly relayedDown: number
  readonly fannedOut: number
  readonly droppedUnreachable: number
  readonly droppedSendFailed: number
}

/** One voter run by this server, now. */
export interface VoterHealth {
  readonly id: NodeId
  readonly role: RaftRole
  readonly term: number
  readonly commitIndex: number
  readonly leader: NodeId | null
}

/** A server's health at one moment, as a plain record (for dashboards and HTTP health checks). */
export interface ServerClusterHealth {
  /** The id clients know this server by (one of its voters). */
  readonly server: NodeId
  /** The leader this server's entry voter follows, or `null`. */
  readonly leader: NodeId | null
  readonly voters: ReadonlyArray<VoterHealth>
  /** Every voter of the core. */
  readonly core: ReadonlyArray<NodeId>
  /** Learners in the membership, and the bound. */
  readonly learners: number
  readonly maxLearners: number
  /** Clients connected to this server, waiting for admission, told the cluster is full. */
  readonly clients: { readonly attached: number; readonly pending: number; readonly refused: number }
  /** Learners removed (after their grace) by this server while it led. */
  readonly learnersRemoved: number
  readonly links: ReadonlyArray<MeshLinkStatus>
  readonly frames: ClusterFrameCounters
  /** A leader is known and every link of this server is up. */
  readonly ok: boolean
}

/** What a running server offers; the service tag is `ServerCluster` in `kuilt/node`. */
export interface ServerClusterShape {
  /** Every voter of the core, in order. */
  readonly voters: ReadonlyArray<NodeId>
  /** The voters this server runs. */
  readonly owned: ReadonlyArray<NodeId>
  /** The id clients know this server by (its first voter; the relay's `serverPeerId`). */
  readonly server: NodeId
  /** The client endpoint, e.g. `ws://127.0.0.1:4000/kuilt`: what `ClusterEndpoints` lists. */
  readonly url: string
  /** The TCP port it listens on (voter links, clients and health share it). */
  readonly port: number
  /** The Raft nodes of the voters it runs (to publish snapshots, read, transfer leadership). */
  readonly nodes: ReadonlyMap<NodeId, RaftNodeShape>
  /**
   * Starts the accept loop (idempotent): the server's member in its client room, admission and,
   * when one of its voters leads, learner GC. Clients may connect before; they are served from here.
   */
  readonly start: Effect.Effect<void>
  /** Committed entries of the first voter, from now on. */
  readonly committed: Stream.Stream<Committed>
  /** Committed entries of the first voter from `index` on (replay, then live). */
  readonly committedFrom: (index: number) => Stream.Stream<Committed>
  /** The leader the first voter follows. */
  readonly leader: Subscribable.Subscribable<Option.Option<NodeId>>
  /** Waits until a leader is known and returns it (bound it with a timeout). */
  readonly awaitLeader: Effect.Effect<NodeId>
  /** The membership (voters and learners) as the first voter knows it. */
  readonly membership: Subscribable.Subscribable<ClusterConfig>
  /** Health now (never fails). */
  readonly health: Effect.Effect<ServerClusterHealth>
  /** The pair links of this server's voters, now. */
  readonly links: Effect.Effect<ReadonlyArray<MeshLinkStatus>>
  /** Stops everything (idempotent): clients are told the server is closing, voters stop. */
  readonly close: Effect.Effect<void>
}
