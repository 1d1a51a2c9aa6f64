/**
 * The transport contract (docs/ARCHITECTURE.md, "Seams").
 *
 * A `Seam` is one peer's view of a woven session: who it is, whom it can address, its lifecycle,
 * a single inbound stream and two ways to send. Every layer above (Raft, games, app channels)
 * talks to a Seam, never to a socket, so the same code runs over the in-memory fabric, WebSockets
 * or a channel view of another seam.
 */
import type { Effect, Option, Stream, Subscribable } from "effect"
import { Context } from "effect"
import type { PeerId } from "./PeerId.js"
import type { SeamTorn, SendError } from "./SeamErrors.js"
import type { CloseReason, SeamState } from "./SeamState.js"
import type { Swatch } from "./Swatch.js"

/** What a `Seam` offers; the service is `Seam` below. */
export interface SeamShape {
  /** This peer's id; stable for the seam's life. */
  readonly selfId: PeerId
  /**
   * The peers this seam can address. Always contains `selfId`; starts as exactly `{selfId}` until
   * the fabric knows more, and collapses back to `{selfId}` when the seam tears.
   */
  readonly peers: Subscribable.Subscribable<ReadonlySet<PeerId>>
  /** `Weaving | Woven | Torn(reason)`; `Torn` is terminal. */
  readonly state: Subscribable.Subscribable<SeamState>
  /**
   * The largest payload `sendTo` accepts right now. `None` means *unknown*, not unbounded. A
   * reading, not a lease: it may go down. Views report the inner budget minus their header.
   */
  readonly maxPayloadBytes: Option.Option<number>
  /**
   * Frames addressed to this peer, in send order per sender. Exactly one collector: running the
   * stream a second time dies with `IncomingAlreadyCollected`. Completes when the seam tears.
   */
  readonly incoming: Stream.Stream<Swatch>
  /**
   * Sends one frame to one peer. Checks, in order: torn (`SeamTorn`), over budget
   * (`PayloadTooLarge`), absent peer (`PeerNotConnected`). Sending to `selfId` is a programming
   * error (a defect). Success means the fabric accepted the frame, not that it arrived.
   */
  readonly sendTo: (peer: PeerId, payload: Uint8Array) => Effect.Effect<void, SendError>
  /**
   * Best effort to every other peer. Never fails while the seam is not torn; an over-budget
   * payload is dropped (and counted by the fabric), not raised.
   */
  readonly broadcast: (payload: Uint8Array) => Effect.Effect<void, SeamTorn>
  /** Tears the seam. Idempotent: the first reason wins. */
  readonly close: (reason?: CloseReason) => Effect.Effect<void>
}

/**
 * The `Seam` service: a seam received from context, e.g. woven by `Loom.layerHost` /
 * `Loom.layerJoin`, so that a transport (`SeamRaftTransport.layer`) or a game session
 * (`GameSession.layerHost`, ...) can be built from a Layer.
 */
export class Seam extends Context.Tag("kuilt/Seam")<Seam, SeamShape>() {}
