/**
 * The receiving half of a seam: one bounded FIFO per sending link, merged in arrival order into a
 * single-collector stream.
 *
 * Why one structure instead of an Effect `Queue` per link: a per-link queue cannot keep the global
 * arrival order (which the deterministic simulation relies on) and a merge of queues forks fibers.
 * Here offers and takes are plain synchronous bookkeeping; only a full link under `Reliable` or an
 * empty inbox suspends, through `Effect.async` callbacks kept in plain arrays (docs/ARCHITECTURE.md,
 * "Raft": ~1 µs per call instead of ~10 µs for Deferred+Queue).
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type { DeliveryPolicy } from "../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import { IncomingAlreadyCollected } from "../../services/seam/SeamErrors.js"
import type { SendError } from "../../services/seam/SeamErrors.js"
import { Swatch } from "../../services/seam/Swatch.js"

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
  readonly link: Link
  readonly from: PeerId
  readonly payload: Uint8Array
  dropped: boolean
}

interface Link {
  /** Live (not dropped, not taken) entries of this link, oldest first. */
  readonly entries: Fifo<Entry>
  /** Senders waiting for room under `Reliable`. */
  readonly waiters: Array<() => void>
  /** Taken from during the current drain (its waiters are woken at the end). */
  touched: boolean
}

/**
 * A FIFO over an array that keeps its capacity: taken slots are cleared (nothing is retained) and
 * an emptied queue restarts at slot 0. Truncating an array instead (`length = 0`) frees its backing
 * store, so a queue that keeps emptying — an inbox drained on every frame — reallocated it per frame.
 */
class Fifo<A> {
  private buf: Array<A | undefined> = []
  private head = 0
  private tail = 0

  get size(): number {
    return this.tail - this.head
  }

  push(item: A): void {
    if (this.tail === this.buf.length && this.head > 0 && this.head * 2 >= this.tail) {
      // Full, with at least half of it taken: slide the live part down instead of growing.
      const n = this.tail - this.head
      this.buf.copyWithin(0, this.head, this.tail)
      this.buf.fill(undefined, n, this.tail)
      this.head = 0
      this.tail = n
    }
    if (this.tail === this.buf.length) this.buf.push(item)
    else this.buf[this.tail] = item
    this.tail++
  }

  /** The oldest item (the queue must not be empty). */
  peek(): A {
    return this.buf[this.head]!
  }

  /** Removes and returns the oldest item (the queue must not be empty). */
  shift(): A {
    const item = this.buf[this.head]!
    this.buf[this.head++] = undefined
    if (this.head === this.tail) this.head = this.tail = 0
    return item
  }

  clear(): void {
    this.buf.fill(undefined, this.head, this.tail)
    this.head = this.tail = 0
  }
}

/**
 * Symbol under which an in-process fabric's `Seam` carries its `SeamFastPath` (an optional extra:
 * adapters that find it may skip a Stream hop per frame; everything else uses the `Seam` API).
 */
export const SEAM_FAST_PATH: unique symbol = Symbol.for("kuilt/SeamFastPath") as never

/**
 * Synchronous access to a seam, for in-process consumers that would otherwise pay an Effect per
 * send and a Stream element (and a fiber hop) per received frame.
 */
export interface SeamFastPath {
  /**
   * `sendTo` without an Effect when the frame can be handed over synchronously: `undefined` means
   * done (delivered, or dropped and counted, exactly as `sendTo` would have); otherwise the Effect
   * that finishes the job, with `sendTo`'s meaning and errors. Run it at once.
   */
  readonly trySend: (peer: PeerId, payload: Uint8Array) => Effect.Effect<void, SendError> | undefined
  /**
   * Claims the seam's incoming frames for a synchronous collector (instead of `incoming`, which
   * then fails with `IncomingAlreadyCollected`); `undefined` if they were already collected.
   * `wake` is called, synchronously, whenever a frame is queued or the inbox closes.
   */
  readonly collect: (wake: () => void) => InboxTap | undefined
}

/** The collector's side of a tapped inbox. */
export interface InboxTap {
  /** Frames queued and not yet drained. */
  readonly pending: () => number
  /** Hands every queued frame to `f`, oldest first (arrival order), as the stream would have. */
  readonly drain: (f: (from: PeerId, payload: Uint8Array) => void) => void
}

const noneReserved = (): number => 0

/** Most frames handed to the collector in one chunk; bounds the work of one pull. */
const MAX_CHUNK = 1024

export class Inbox {
  /** Every queued entry in arrival order (dropped ones are skipped when taken). */
  private readonly order = new Fifo<Entry>()
  /** Links taken from during the current drain. */
  private readonly touched: Array<Link> = []
  private readonly links = new Map<PeerId, Link>()
  private takeWaiter: (() => void) | undefined = undefined
  /** The synchronous collector's wake-up (`tap`), called on every enqueue and on close. */
  private tapWake: (() => void) | undefined = undefined
  private closed = false
  private collected = false
  private sequence = 0
  /** Frames queued, not dropped and not yet handed to the collector. */
  private queued = 0
  /** Frames dropped by `Lossy` overflow, for fabric counters. */
  droppedOldest = 0

  constructor(readonly selfId: PeerId, readonly policy: DeliveryPolicy) {}

  get isClosed(): boolean {
    return this.closed
  }

  /** Number of frames queued and not yet handed to the collector. */
  get size(): number {
    return this.queued
  }

  /**
   * Offers without waiting. Under `Reliable` a full link answers `"full"`; callers that may wait
   * use `offer`.
   */
  tryOffer(from: PeerId, payload: Uint8Array): OfferOutcome {
    if (this.closed) return "closed"
    const link = this.link(from)
    let outcome: OfferOutcome = "accepted"
    if (link.entries.size >= this.policy.capacity) {
      switch (this.policy._tag) {
        case "Reliable":
          return "full"
        case "Strict":
          return "overflow"
        case "Lossy": {
          const oldest = link.entries.shift()
          oldest.dropped = true
          this.queued--
          this.droppedOldest++
          outcome = "accepted-dropped-oldest"
          break
        }
      }
    }
    this.enqueue(link, from, payload)
    return outcome
  }

  private enqueue(link: Link, from: PeerId, payload: Uint8Array): void {
    const entry: Entry = { link, from, payload, dropped: false }
    link.entries.push(entry)
    this.order.push(entry)
    this.queued++
    const waiter = this.takeWaiter
    if (waiter !== undefined) {
      this.takeWaiter = undefined
      waiter()
    }
    this.tapWake?.()
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
    return link === undefined ? 0 : link.entries.size
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
    this.order.clear()
    this.queued = 0
    const waiter = this.takeWaiter
    this.takeWaiter = undefined
    waiter?.()
    this.tapWake?.()
    for (const link of this.links.values()) {
      link.entries.clear()
      for (const w of link.waiters.splice(0)) w()
    }
  }

  /**
   * Claims the inbox for a synchronous collector instead of `stream` (see `SeamFastPath.collect`);
   * `undefined` when it was already collected. The frames, their order, the `Reliable` senders'
   * wake-ups and the capacity rules are those of `stream`: frames wait here until drained.
   */
  tap(wake: () => void): InboxTap | undefined {
    if (this.collected) return undefined
    this.collected = true
    this.tapWake = wake
    return {
      pending: () => this.queued,
      drain: (f) => {
        if (!this.closed) this.drainWith(f, Infinity)
      }
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
      if (this.closed || this.order.size > 0) {
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
    this.drainWith((from, payload) => out.push(new Swatch(from, this.sequence, payload)), MAX_CHUNK)
    return out
  }

  /** Hands at most `max` queued frames to `f` in arrival order (stamping `sequence` first). */
  private drainWith(f: (from: PeerId, payload: Uint8Array) => void, max: number): void {
    const touched = this.touched
    let touchedCount = 0
    let n = 0
    while (this.order.size > 0 && n < max) {
      const entry = this.order.shift()
      if (entry.dropped) continue
      const link = entry.link
      // The entry is the oldest live one of its link: per-link FIFO is kept by construction.
      link.entries.shift()
      if (!link.touched) {
        link.touched = true
        touched[touchedCount++] = link
      }
      this.queued--
      n++
      ++this.sequence
      f(entry.from, entry.payload)
    }
    // `touched` keeps its slots (links live as long as the inbox): no allocation per drain.
    for (let i = 0; i < touchedCount; i++) {
      const link = touched[i]!
      link.touched = false
      // Wake every waiter: each re-checks for room, so waking too many is harmless.
      if (link.waiters.length > 0) for (const w of link.waiters.splice(0)) w()
    }
  }

  private link(from: PeerId): Link {
    let link = this.links.get(from)
    if (link === undefined) {
      link = { entries: new Fifo<Entry>(), waiters: [], touched: false }
      this.links.set(from, link)
    }
    return link
  }
}
