/**
 * The receiving half of a seam: one bounded FIFO per sending link, merged in arrival order into a
 * single-collector stream.
 *
 * Why one structure instead of an Effect `Queue` per link: a per-link queue cannot keep the global
 * arrival order (which the deterministic simulation relies on) and a merge of queues forks fibers.
 * Here offers and takes are plain synchronous bookkeeping; only a full link under `Reliable` or an
 * empty inbox suspends, through `Effect.async` callbacks kept in plain arrays (effect-stack §8:
 * ~1 µs per call instead of ~10 µs for Deferred+Queue).
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type { DeliveryPolicy } from "../../services/DeliveryPolicy.js"
import type { PeerId } from "../../services/PeerId.js"
import { IncomingAlreadyCollected } from "../../services/SeamErrors.js"
import { Swatch } from "../../services/Swatch.js"

/** What happened to one offered frame. */
export type OfferOutcome =
  /** Queued for the collector. */
  | "accepted"
  /** Queued, but the oldest frame of the same link was dropped to make room (`Lossy`). */
  | "accepted-dropped-oldest"
  /** Not queued: the link was full under `Strict` (the owner should tear the seam). */
  | "overflow"
  /** Not queued: the link was full under `Reliable` (only from `tryOffer`). */
  | "full"
  /** Not queued: the inbox is closed. */
  | "closed"

interface Entry {
  readonly from: PeerId
  readonly payload: Uint8Array
  dropped: boolean
}

interface Link {
  /** Live (not dropped, not taken) entries of this link, oldest first. */
  readonly entries: Array<Entry>
  head: number
  /** Senders waiting for room under `Reliable`. */
  readonly waiters: Array<() => void>
}

const noneReserved = (): number => 0

/** Most frames handed to the collector in one chunk; bounds the work of one pull. */
const MAX_CHUNK = 1024

export class Inbox {
  private readonly order: Array<Entry> = []
  private orderHead = 0
  private readonly links = new Map<PeerId, Link>()
  private takeWaiter: (() => void) | undefined = undefined
  private closed = false
  private collected = false
  private sequence = 0
  /** Frames dropped by `Lossy` overflow, for fabric counters. */
  droppedOldest = 0

  constructor(readonly selfId: PeerId, readonly policy: DeliveryPolicy) {}

  get isClosed(): boolean {
    return this.closed
  }

  /** Number of frames queued and not yet handed to the collector. */
  get size(): number {
    let n = 0
    for (const link of this.links.values()) n += link.entries.length - link.head
    return n
  }

  /**
   * Offers without waiting. Under `Reliable` a full link answers `"full"`; callers that may wait
   * use `offer`.
   */
  tryOffer(from: PeerId, payload: Uint8Array): OfferOutcome {
    if (this.closed) return "closed"
    const link = this.link(from)
    let outcome: OfferOutcome = "accepted"
    if (link.entries.length - link.head >= this.policy.capacity) {
      switch (this.policy._tag) {
        case "Reliable":
          return "full"
        case "Strict":
          return "overflow"
        case "Lossy": {
          const oldest = link.entries[link.head]!
          link.head++
          oldest.dropped = true
          this.droppedOldest++
          this.compactLink(link)
          outcome = "accepted-dropped-oldest"
          break
        }
      }
    }
    this.enqueue(link, from, payload)
    return outcome
  }

  private enqueue(link: Link, from: PeerId, payload: Uint8Array): void {
    const entry: Entry = { from, payload, dropped: false }
    link.entries.push(entry)
    this.order.push(entry)
    const waiter = this.takeWaiter
    if (waiter !== undefined) {
      this.takeWaiter = undefined
      waiter()
    }
  }

  /**
   * Queues regardless of capacity. For fabrics delivering a frame they already admitted against
   * the link's budget (e.g. a delayed frame under `Reliable`, whose sender waited for room when it
   * sent): dropping it would break `Reliable`, and the delivery path must not wait.
   */
  forceOffer(from: PeerId, payload: Uint8Array): "accepted" | "closed" {
    if (this.closed) return "closed"
    this.enqueue(this.link(from), from, payload)
    return "accepted"
  }

  /** Frames from `from` queued and not yet handed to the collector. */
  linkSize(from: PeerId): number {
    const link = this.links.get(from)
    return link === undefined ? 0 : link.entries.length - link.head
  }

  /** Offers, waiting for room while the link is full under `Reliable`. */
  offer(from: PeerId, payload: Uint8Array): Effect.Effect<OfferOutcome> {
    return Effect.suspend(() => {
      const outcome = this.tryOffer(from, payload)
      if (outcome !== "full") return Effect.succeed(outcome)
      return this.awaitRoom(from).pipe(Effect.zipRight(this.offer(from, payload)))
    })
  }

  /**
   * Waits until the link from `from` has room for one more frame, counting `reserved()` frames
   * that are promised to the link but not queued yet (frames a fabric holds in flight), or until
   * the inbox closes. Only meaningful under `Reliable`; room appears when the collector drains.
   */
  awaitRoom(from: PeerId, reserved: () => number = noneReserved): Effect.Effect<void> {
    const hasRoom = () => this.closed || this.linkSize(from) + reserved() < this.policy.capacity
    const wait: Effect.Effect<void> = Effect.suspend(() => {
      if (hasRoom()) return Effect.void
      return Effect.async<void>((resume) => {
        // Re-check inside the registration: the fiber may have yielded between the check above
        // and this point, and a drain (or close) in that gap would otherwise never wake us.
        if (hasRoom()) {
          resume(Effect.void)
          return
        }
        const link = this.link(from)
        const wake = () => resume(Effect.void)
        link.waiters.push(wake)
        return Effect.sync(() => {
          const i = link.waiters.indexOf(wake)
          if (i >= 0) link.waiters.splice(i, 1)
        })
      }).pipe(Effect.zipRight(wait))
    })
    return wait
  }

  /** Closes the inbox: the stream completes, queued frames are discarded, waiting senders resume. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.order.length = 0
    this.orderHead = 0
    const waiter = this.takeWaiter
    this.takeWaiter = undefined
    waiter?.()
    for (const link of this.links.values()) {
      link.entries.length = 0
      link.head = 0
      for (const w of link.waiters.splice(0)) w()
    }
  }

  /** The single-collector stream of received frames; completes when the inbox closes. */
  readonly stream: Stream.Stream<Swatch> = Stream.suspend(() => {
    if (this.collected) return Stream.die(new IncomingAlreadyCollected({ selfId: this.selfId }))
    this.collected = true
    return Stream.repeatEffectChunkOption(this.pull)
  })

  private readonly pull: Effect.Effect<Chunk.Chunk<Swatch>, Option.Option<never>> = Effect.suspend(() => {
    if (this.closed) return Effect.fail(Option.none())
    const chunk = this.drain()
    if (chunk.length > 0) return Effect.succeed(Chunk.unsafeFromArray(chunk))
    return Effect.async<void>((resume) => {
      // Re-check inside the registration: the collector may have been descheduled between the
      // empty drain above and this point; an offer or close in that gap found no waiter to wake.
      if (this.closed || this.orderHead < this.order.length) {
        resume(Effect.void)
        return
      }
      this.takeWaiter = () => resume(Effect.void)
      return Effect.sync(() => {
        this.takeWaiter = undefined
      })
    }).pipe(Effect.zipRight(this.pull))
  })

  private drain(): Array<Swatch> {
    const out: Array<Swatch> = []
    const touched = new Set<Link>()
    while (this.orderHead < this.order.length && out.length < MAX_CHUNK) {
      const entry = this.order[this.orderHead++]!
      if (entry.dropped) continue
      const link = this.links.get(entry.from)!
      // The entry is the oldest live one of its link: per-link FIFO is kept by construction.
      link.head++
      touched.add(link)
      out.push(new Swatch(entry.from, ++this.sequence, entry.payload))
    }
    if (this.orderHead === this.order.length) {
      this.order.length = 0
      this.orderHead = 0
    } else if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order.splice(0, this.orderHead)
      this.orderHead = 0
    }
    for (const link of touched) {
      this.compactLink(link)
      // Wake every waiter: each re-checks for room, so waking too many is harmless.
      if (link.waiters.length > 0) for (const w of link.waiters.splice(0)) w()
    }
    return out
  }

  private link(from: PeerId): Link {
    let link = this.links.get(from)
    if (link === undefined) {
      link = { entries: [], head: 0, waiters: [] }
      this.links.set(from, link)
    }
    return link
  }

  private compactLink(link: Link): void {
    if (link.head === link.entries.length) {
      link.entries.length = 0
      link.head = 0
    } else if (link.head > 1024 && link.head * 2 > link.entries.length) {
      link.entries.splice(0, link.head)
      link.head = 0
    }
  }
}
