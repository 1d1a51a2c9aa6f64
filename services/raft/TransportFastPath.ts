/**
 * An optional extra a `RaftTransport` may carry for in-process fabrics: synchronous sends and a
 * synchronous frame source the engine drains at the start of each turn. With it, a frame costs
 * neither an Effect per send nor a Stream element and a pump fiber hop per receive (together the
 * better part of a propose round trip over `InMemoryLoom`). Transports without it are used
 * through the `RaftTransport` contract, unchanged.
 */
import type { Effect } from "effect"
import type { NodeId } from "./NodeId.js"
import type { RaftTransportShape } from "./RaftTransport.js"

export const RAFT_TRANSPORT_FAST_PATH: unique symbol = Symbol.for("kuilt/RaftTransportFastPath") as never

export interface RaftTransportFastPath {
  /**
   * `sendTo` without an Effect when the frame can be handed over synchronously: `undefined` means
   * done (sent, or dropped and counted); otherwise an Effect, with `sendTo`'s meaning, to run now.
   */
  readonly trySend: (peer: NodeId, bytes: Uint8Array) => Effect.Effect<void> | undefined
  /**
   * Claims the incoming frames for a synchronous collector (the engine) instead of `incoming`;
   * `undefined` when they were already collected (the caller then uses `incoming`, as before).
   * `wake` is called synchronously whenever a frame arrives or the source closes.
   */
  readonly collect: (wake: () => void) => FrameSource | undefined
}

/** Received frames, drained synchronously by their single collector. */
export interface FrameSource {
  /** Frames waiting. */
  readonly pending: () => number
  /** Hands every waiting frame to `f` in arrival order; `from` is stamped by the transport. */
  readonly drain: (f: (from: NodeId, bytes: Uint8Array) => void) => void
}

/** The fast path of `transport`, if it has one. */
export const fastPathOf = (transport: RaftTransportShape): RaftTransportFastPath | undefined =>
  (transport as Partial<Record<typeof RAFT_TRANSPORT_FAST_PATH, RaftTransportFastPath>>)[RAFT_TRANSPORT_FAST_PATH]
