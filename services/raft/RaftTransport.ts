/**
 * What the Raft engine needs from a network: send bytes to a node (fire and forget, may drop)
 * and receive `(from, bytes)` envelopes where `from` is stamped by the transport, never read from
 * the frame.
 */
import type { Effect, Option, Stream, Subscribable } from "effect"
import { Context } from "effect"
import type { NodeId } from "./NodeId.js"

/** A Raft frame as the transport delivers it: the sender's id and the encoded message. */
export interface RaftEnvelope {
  readonly from: NodeId
  readonly bytes: Uint8Array
}

/** What a `RaftTransport` offers; the service is `RaftTransport` below. */
export interface RaftTransportShape {
  readonly selfId: NodeId
  readonly peers: Subscribable.Subscribable<ReadonlySet<NodeId>>
  /** Collected once, by the engine. */
  readonly incoming: Stream.Stream<RaftEnvelope>
  /** Fire and forget: never fails; an unreachable peer or an over-budget frame is dropped. */
  readonly sendTo: (peer: NodeId, bytes: Uint8Array) => Effect.Effect<void>
  /** The largest frame the transport carries right now; `None` = unknown. */
  readonly maxPayloadBytes: Option.Option<number>
}

/**
 * The `RaftTransport` service: the network `RaftNode.layer` takes from context
 * (`SeamRaftTransport.layer` over a `Seam`, `ManagedRaftTransport.layer`).
 */
export class RaftTransport extends Context.Tag("kuilt/RaftTransport")<RaftTransport, RaftTransportShape>() {}
