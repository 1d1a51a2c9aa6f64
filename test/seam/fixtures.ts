/**
 * A tiny in-memory mesh for the seam combinator tests, independent of `InMemoryLoom`: every peer
 * can address every other live peer, each peer receives through an `Inbox`, and a send copies the
 * bytes (as a wire would) and waits under `Reliable` back-pressure. Test knobs: change a seam's
 * budget, add a peer, tear a seam.
 */
import { Chunk, Effect, Option, Stream, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import { PayloadTooLarge, PeerNotConnected, SeamTorn } from "../../services/seam/SeamErrors.js"
import { CloseReason, SeamState } from "../../services/seam/SeamState.js"
import type { Swatch } from "../../services/seam/Swatch.js"
import { Inbox } from "../../src/seam/Inbox.js"

export interface TestSeam extends SeamShape {
  /** Replaces this seam's budget (`None` = unknown). */
  setMaxPayloadBytes(budget: Option.Option<number>): void
  /** Broadcasts this seam dropped for being over budget. */
  readonly droppedOversize: number
}

export interface TestMesh {
  /** The seam of peer `id` (throws if the mesh never had it). */
  readonly seam: (id: string) => TestSeam
  /** Adds a peer; every live peer's `peers` gains it. */
  readonly join: (id: string) => Effect.Effect<TestSeam>
}

export interface MeshOptions {
  /** Budget of every seam. Default: `None` (unknown). */
  readonly maxPayloadBytes?: number
  readonly policy?: DeliveryPolicy
  /** Start `Weaving` instead of `Woven`. */
  readonly weaving?: boolean
}

/** A mesh of `ids`, all `Woven`; closing the scope tears every seam. */
export const makeMesh = (ids: ReadonlyArray<string>, options: MeshOptions = {}): Effect.Effect<TestMesh, never, Scope.Scope> =>
  Effect.gen(function*() {
    const live = new Map<PeerId, MeshSeam>()
    const all = new Map<PeerId, MeshSeam>()

    const publishPeers = Effect.suspend(() =>
      Effect.forEach(live.values(), (s) => SubscriptionRef.set(s.peersRef, new Set(live.keys())), { discard: true })
    )

    const join = (raw: string): Effect.Effect<TestSeam> =>
      Effect.gen(function*() {
        const id = PeerId(raw)
        const seam = new MeshSeam(
          id,
          new Inbox(id, options.policy ?? DeliveryPolicy.reliable()),
          yield* SubscriptionRef.make<ReadonlySet<PeerId>>(new Set([id])),
          yield* SubscriptionRef.make<SeamState>(options.weaving === true ? SeamState.Weaving() : SeamState.Woven()),
          options.maxPayloadBytes === undefined ? Option.none() : Option.some(options.maxPayloadBytes),
          live,
          publishPeers
        )
        live.set(id, seam)
        all.set(id, seam)
        yield* publishPeers
        return seam
      })

    for (const id of ids) yield* join(id)
    yield* Effect.addFinalizer(() => Effect.forEach(all.values(), (s) => s.close(), { discard: true }))

    return {
      seam: (id) => {
        const s = all.get(PeerId(id))
        if (s === undefined) throw new Error(`no peer ${id} in this mesh`)
        return s
      },
      join
    }
  })

class MeshSeam implements TestSeam {
  private torn: CloseReason | undefined = undefined
  droppedOversize = 0
  readonly incoming: Stream.Stream<Swatch>

  constructor(
    readonly selfId: PeerId,
    private readonly inbox: Inbox,
    readonly peersRef: SubscriptionRef.SubscriptionRef<ReadonlySet<PeerId>>,
    private readonly stateRef: SubscriptionRef.SubscriptionRef<SeamState>,
    private budget: Option.Option<number>,
    private readonly live: Map<PeerId, MeshSeam>,
    private readonly publishPeers: Effect.Effect<void>
  ) {
    this.incoming = inbox.stream
  }

  get peers() {
    return this.peersRef
  }
  get state() {
    return this.stateRef
  }
  get maxPayloadBytes() {
    return this.budget
  }
  setMaxPayloadBytes(budget: Option.Option<number>): void {
    this.budget = budget
  }

  readonly sendTo = (peer: PeerId, payload: Uint8Array) =>
    Effect.suspend((): Effect.Effect<void, PeerNotConnected | PayloadTooLarge | SeamTorn> => {
      if (this.torn !== undefined) return Effect.fail(new SeamTorn({ reason: this.torn }))
      if (Option.isSome(this.budget) && payload.byteLength > this.budget.value) {
        return Effect.fail(new PayloadTooLarge({ payloadBytes: payload.byteLength, budgetBytes: this.budget.value, reservedBytes: 0 }))
      }
      if (peer === this.selfId) return Effect.dieMessage("send to self")
      const target = this.live.get(peer)
      if (target === undefined) return Effect.fail(new PeerNotConnected({ peer }))
      return Effect.asVoid(target.inbox.offer(this.selfId, payload.slice()))
    })

  readonly broadcast = (payload: Uint8Array) =>
    Effect.suspend((): Effect.Effect<void, SeamTorn> => {
      if (this.torn !== undefined) return Effect.fail(new SeamTorn({ reason: this.torn }))
      if (Option.isSome(this.budget) && payload.byteLength > this.budget.value) {
        this.droppedOversize++
        return Effect.void
      }
      const targets = [...this.live.values()].filter((s) => s !== this)
      return Effect.forEach(targets, (t) => t.inbox.offer(this.selfId, payload.slice()), { discard: true })
    })

  readonly close = (reason: CloseReason = CloseReason.Normal()) =>
    Effect.suspend(() => {
      if (this.torn !== undefined) return Effect.void
      this.torn = reason
      this.inbox.close()
      this.live.delete(this.selfId)
      return Effect.all([
        SubscriptionRef.set(this.stateRef, SeamState.Torn({ reason })),
        SubscriptionRef.set(this.peersRef, new Set([this.selfId])),
        this.publishPeers
      ], { discard: true })
    })
}

/** Lets forked fibers (pumps, collectors, followers) run until they wait. */
export const settle: Effect.Effect<void> = Effect.forEach(Array.from({ length: 50 }), () => Effect.yieldNow(), {
  discard: true
})

/** Forks a collector taking the first `n` frames of `incoming`; join it for their payloads as text. */
export const collectText = (incoming: Stream.Stream<Swatch>, n: number) =>
  incoming.pipe(
    Stream.take(n),
    Stream.map((s) => `${s.sender}:${s.decodeToString()}`),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.fork
  )

const utf8 = new TextEncoder()
/** UTF-8 bytes of `s`. */
export const bytes = (s: string): Uint8Array => utf8.encode(s)
