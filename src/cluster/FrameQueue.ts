/**
 * The inbound queue of a cluster transport: Raft frames from many senders (voters and any number
 * of clients, which come and go) for one node, bounded, oldest dropped when full (Raft retransmits
 * what it needs; a flood from one client costs frames, never memory or the engine's pace).
 *
 * Collected once: as a `Stream` (the `RaftTransport` contract) or, for the engine, synchronously
 * through `tap` (the `RaftTransportFastPath` of `services/raft/TransportFastPath.ts`), which skips a
 * Stream element and a fiber hop per frame. Unlike a seam `Inbox` it keeps no per-sender state, so a
 * long-lived server meeting thousands of short-lived clients holds nothing per client here.
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftEnvelope } from "../../services/raft/RaftTransport.js"
import type { FrameSource } from "../../services/raft/TransportFastPath.js"

export class FrameQueue {
  private froms: Array<NodeId | undefined> = []
  private payloads: Array<Uint8Array | undefined> = []
  private head = 0
  private tail = 0
  private closed = false
  private collected = false
  private wake: (() => void) | undefined = undefined
  private taker: (() => void) | undefined = undefined
  /** Frames dropped because the queue was full (oldest first). */
  dropped = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.tail - this.head
  }

  /** Queues a frame; drops the oldest when full. Ignored once closed. */
  offer(from: NodeId, payload: Uint8Array): void {
    if (this.closed) return
    if (this.tail - this.head >= this.capacity) {
      this.froms[this.head] = undefined
      this.payloads[this.head] = undefined
      this.head++
      this.dropped++
    }
    if (this.head > 0 && this.head === this.tail) this.head = this.tail = 0
    if (this.tail === this.froms.length && this.head * 2 >= this.tail && this.head > 0) {
      const n = this.tail - this.head
      this.froms.copyWithin(0, this.head, this.tail)
      this.payloads.copyWithin(0, this.head, this.tail)
      this.froms.fill(undefined, n)
      this.payloads.fill(undefined, n)
      this.head = 0
      this.tail = n
    }
    this.froms[this.tail] = from
    this.payloads[this.tail] = payload
    this.tail++
    this.wake?.()
    const t = this.taker
    if (t !== undefined) {
      this.taker = undefined
      t()
    }
  }

  /** Closes: the stream completes, queued frames are discarded. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.froms = []
    this.payloads = []
    this.head = this.tail = 0
    this.wake?.()
    const t = this.taker
    this.taker = undefined
    t?.()
  }

  private drainWith(f: (from: NodeId, bytes: Uint8Array) => void, max: number): void {
    let n = 0
    while (this.head < this.tail && n < max) {
      const from = this.froms[this.head]!
      const payload = this.payloads[this.head]!
      this.froms[this.head] = undefined
      this.payloads[this.head] = undefined
      this.head++
      n++
      f(from, payload)
    }
    if (this.head === this.tail) this.head = this.tail = 0
  }

  /** Claims the frames for a synchronous collector; `undefined` when already collected. */
  tap(wake: () => void): FrameSource | undefined {
    if (this.collected) return undefined
    this.collected = true
    this.wake = wake
    return {
      pending: () => this.tail - this.head,
      drain: (f) => this.drainWith(f, Infinity)
    }
  }

  /** The frames as a single-collector stream; completes on `close`. A second collection dies. */
  readonly stream: Stream.Stream<RaftEnvelope> = Stream.suspend(() => {
    if (this.collected) return Stream.dieMessage("FrameQueue: the frames were already collected")
    this.collected = true
    return Stream.repeatEffectChunkOption(this.pull)
  })

  private readonly pull: Effect.Effect<Chunk.Chunk<RaftEnvelope>, Option.Option<never>> = Effect.suspend(() => {
    if (this.closed) return Effect.fail(Option.none())
    if (this.head < this.tail) {
      const out: Array<RaftEnvelope> = []
      this.drainWith((from, bytes) => out.push({ from, bytes }), 1024)
      return Effect.succeed(Chunk.unsafeFromArray(out))
    }
    return Effect.async<void>((resume) => {
      if (this.closed || this.head < this.tail) return resume(Effect.void)
      this.taker = () => resume(Effect.void)
      return Effect.sync(() => {
        this.taker = undefined
      })
    }).pipe(Effect.zipRight(this.pull))
  })
}
