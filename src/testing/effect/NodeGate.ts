/**
 * `pause` for one node incarnation: a latch that everything the node does passes through.
 *
 * A paused node models a stopped process (SIGSTOP, a long GC pause, a VM migration), not a
 * partition: it keeps its state and its leadership belief, its peers' frames wait in its inbox
 * (the loom's per-link queue, bounded by the delivery policy), and on `resume` it sees them all at
 * once, late, while its clock has moved on — overdue timers fire at once, a stale leader finds a
 * newer term. While paused:
 * - its engine does not wake on timers (its Clock's sleeps wait for the gate after they end);
 * - it does not read frames (the transport's incoming stream waits), send, or write storage;
 * - its state-machine consumer applies nothing;
 * - calls through the gated view (`cluster.node(id)`) wait until `resume`, like requests queued at
 *   a stopped server.
 * A turn already running when `pause` is called stops at its next send or write; observation
 * (`role.get`, `commitIndex.get`, …) still works, as a debugger would read a stopped process.
 *
 * Crashing a paused node `kill`s the gate: it opens for good and drops every later send, so the
 * closing node cannot hang on it nor speak after its crash.
 */
import { Effect, Stream } from "effect"
import type { Clock } from "effect"
import type { ProposeFailFastOptions, ProposeOptions, RaftNodeShape } from "../../../services/raft/RaftNode.js"
import type { RaftStorageShape } from "../../../services/raft/RaftStorage.js"
import type { RaftTransportShape } from "../../../services/raft/RaftTransport.js"
import type { VirtualTimers } from "./VirtualTimers.js"

export class NodeGate {
  private paused = false
  private dead = false

  private constructor(private readonly latch: Effect.Latch) {}

  /** An open gate. */
  static make: Effect.Effect<NodeGate> = Effect.map(Effect.makeLatch(true), (l) => new NodeGate(l))

  get isPaused(): boolean {
    return this.paused
  }

  /** Waits while paused. */
  get pass(): Effect.Effect<void> {
    return this.latch.await
  }

  pause(): void {
    if (this.dead) return
    this.paused = true
    this.latch.unsafeClose()
  }

  resume(): void {
    this.paused = false
    this.latch.unsafeOpen()
  }

  /** The incarnation is crashing: open for good, and from now on drop its sends. */
  kill(): void {
    this.dead = true
    this.resume()
  }

  /** The node's Clock: sleeps end on the shared timers, then wait for the gate. */
  clock(timers: VirtualTimers): Clock.Clock {
    return timers.clockWith((ms) => Effect.zipRight(timers.sleep(ms), this.latch.await))
  }

  transport(base: RaftTransportShape): RaftTransportShape {
    return {
      selfId: base.selfId,
      peers: base.peers,
      // Per chunk, not per frame: a paused node stops reading at the next batch it pulls.
      incoming: Stream.mapChunksEffect(base.incoming, (chunk) => Effect.as(this.latch.await, chunk)),
      sendTo: (peer, bytes) =>
        Effect.zipRight(this.latch.await, Effect.suspend(() => (this.dead ? Effect.void : base.sendTo(peer, bytes)))),
      get maxPayloadBytes() {
        return base.maxPayloadBytes
      }
    }
  }

  storage(base: RaftStorageShape): RaftStorageShape {
    return { load: base.load, entries: base.entries, write: (batch) => Effect.zipRight(this.latch.await, base.write(batch)) }
  }

  /** The view users get: calls that would make the node act wait for the gate first. */
  node(raw: RaftNodeShape): RaftNodeShape {
    const pass = this.latch.await
    return {
      ...raw,
      committedFrom: (fromIndex) => Stream.unwrap(Effect.as(pass, raw.committedFrom(fromIndex))),
      propose: ((command: Uint8Array, options?: ProposeOptions | ProposeFailFastOptions) =>
        Effect.zipRight(pass, raw.propose(command, options as ProposeFailFastOptions))) as RaftNodeShape["propose"],
      readIndex: Effect.zipRight(pass, raw.readIndex),
      readFence: Effect.zipRight(pass, raw.readFence),
      transferLeadership: (target) => Effect.zipRight(pass, raw.transferLeadership(target)),
      cancelTransfer: Effect.zipRight(pass, raw.cancelTransfer),
      changeMembership: (target) => Effect.zipRight(pass, raw.changeMembership(target)),
      publishSnapshot: (snapshot) => Effect.zipRight(pass, raw.publishSnapshot(snapshot))
    }
  }
}
