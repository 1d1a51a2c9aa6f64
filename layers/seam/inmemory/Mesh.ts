/**
 * The delivery core of the in-memory fabric: live members, directed links, fault application and
 * hand-off into each receiver's `Inbox`.
 *
 * Hot path (healthy link, nothing in flight on it): `transmit` is synchronous bookkeeping plus one
 * `Inbox.tryOffer`; no fiber, timer or random draw per frame. Only a faulty link (cut, latency,
 * loss, duplication, reordering), a frame behind in-flight frames, a full `Reliable` link or a
 * `Strict` overflow leaves that path.
 */
import type { Clock, Random } from "effect"
import { Effect, SubscriptionRef } from "effect"
import type { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import { FrameOverflow, PayloadTooLarge, PeerNotConnected, SeamTorn } from "../../../services/seam/SeamErrors.js"
import type { SendError } from "../../../services/seam/SeamErrors.js"
import { CloseReason, SeamState } from "../../../services/seam/SeamState.js"
import type { Inbox, OfferOutcome } from "../../../src/seam/Inbox.js"
import type { LinkConditions, NetworkConditions } from "./Conditions.js"
import { isPerfect, PERFECT_LINK } from "./Conditions.js"
import type { Timed } from "./Scheduler.js"
import { DeliveryScheduler } from "./Scheduler.js"
import type { DeliveryTrace } from "./Stats.js"
import { Counters } from "./Stats.js"

/** One woven seam of the mesh (one incarnation: a re-join with the same id is a new Member). */
export class Member {
  /** Set once, when the seam tears. */
  torn: CloseReason | undefined = undefined
  /** Outgoing links, keyed by the receiving incarnation. */
  readonly links = new Map<Member, Link>()

  constructor(
    readonly selfId: PeerId,
    readonly inbox: Inbox,
    readonly peers: SubscriptionRef.SubscriptionRef<ReadonlySet<PeerId>>,
    readonly state: SubscriptionRef.SubscriptionRef<SeamState>
  ) {}
}

/** The directed link from one incarnation to another, with its cached conditions. */
export class Link {
  /** Frames sent on this link so far (the trace's per-link sequence). */
  sent = 0
  /** Frames (and duplicates) scheduled on the delay heap and not delivered yet. */
  inFlight = 0
  /** Due time of the latest FIFO frame; later FIFO frames are clamped to arrive no earlier. */
  lastDeliverAt = -Infinity
  /** `NetworkConditions.version` the cache below was read at. */
  version = -1
  cut = false
  /** Perfect and not cut: eligible for synchronous delivery. */
  direct = true
  conditions: LinkConditions = PERFECT_LINK

  constructor(readonly from: Member, readonly to: Member) {}
}

/** A frame waiting on the delay heap. */
interface Flight extends Timed {
  readonly link: Link
  readonly payload: Uint8Array
  readonly sequence: number
}

/** The admitted session of a loom (set by the first `host`). */
export interface Session {
  readonly name: string
  readonly maxPeers: number
  readonly roomKey: string | undefined
}

/**
 * One loom's mesh: who is live, how frames move between them, and the counters. Internal to
 * `InMemoryLoom`; its methods implement the Seam operations of every member.
 */
export class Mesh {
  /** Live members by id; a torn member is removed at once. */
  readonly members = new Map<PeerId, Member>()
  host: Member | undefined = undefined
  session: Session | undefined = undefined
  closed = false
  readonly stats = new Counters()
  readonly scheduler: DeliveryScheduler<Flight>

  constructor(
    readonly policy: DeliveryPolicy,
    /** `undefined`: no budget (the seams report `None`). */
    readonly maxPayloadBytes: number | undefined,
    readonly conditions: NetworkConditions,
    readonly random: Random.Random,
    readonly clock: Clock.Clock,
    readonly trace: DeliveryTrace | undefined
  ) {
    this.scheduler = new DeliveryScheduler<Flight>(clock, (flight) => {
      flight.link.inFlight--
      return this.offerNow(flight.link, flight.payload, flight.sequence, false)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  /** `Seam.sendTo` of `from`. Check order per the contract: torn, budget, self, absent peer. */
  sendTo(from: Member, peer: PeerId, payload: Uint8Array): Effect.Effect<void, SendError> {
    return Effect.suspend(() => this.trySend(from, peer, payload) ?? Effect.void)
  }

  /**
   * `sendTo` done synchronously when it can be (`SeamFastPath.trySend`): `undefined` when the frame
   * was handled (delivered, or dropped and counted), else the Effect that finishes or fails it.
   */
  trySend(from: Member, peer: PeerId, payload: Uint8Array): Effect.Effect<void, SendError> | undefined {
    if (from.torn !== undefined) return Effect.fail(new SeamTorn({ reason: from.torn }))
    const budget = this.maxPayloadBytes
    if (budget !== undefined && payload.byteLength > budget) {
      return Effect.fail(new PayloadTooLarge({ payloadBytes: payload.byteLength, budgetBytes: budget, reservedBytes: 0 }))
    }
    if (peer === from.selfId) {
      return Effect.die(new Error(`sendTo(${peer}): a seam cannot send to itself (programming error)`))
    }
    const to = this.members.get(peer)
    if (to === undefined) return Effect.fail(new PeerNotConnected({ peer }))
    return this.transmit(from, to, payload)
  }

  /** `Seam.broadcast` of `from`: every other live member; over budget is dropped and counted. */
  broadcast(from: Member, payload: Uint8Array): Effect.Effect<void, SeamTorn> {
    return Effect.suspend((): Effect.Effect<void, SeamTorn> => {
      if (from.torn !== undefined) return Effect.fail(new SeamTorn({ reason: from.torn }))
      if (this.maxPayloadBytes !== undefined && payload.byteLength > this.maxPayloadBytes) {
        this.stats.droppedBudget++
        return Effect.void
      }
      let pending: Array<Effect.Effect<void>> | undefined
      // A snapshot: a Strict overflow below may tear a member while we iterate.
      for (const to of Array.from(this.members.values())) {
        if (to === from) continue
        const effect = this.transmit(from, to, payload)
        if (effect !== undefined) (pending ??= []).push(effect)
      }
      return pending === undefined ? Effect.void : Effect.all(pending, { discard: true })
    })
  }

  /**
   * Puts one frame on the link from → to. Returns `undefined` when it was handled synchronously,
   * otherwise the Effect that finishes the job (random draws, waiting for room, tearing a receiver).
   */
  private transmit(from: Member, to: Member, payload: Uint8Array): Effect.Effect<void> | undefined {
    const link = this.linkOf(from, to)
    this.stats.sent++
    const sequence = ++link.sent
    if (link.direct && link.inFlight === 0) return this.offerNow(link, payload, sequence, true)
    if (link.cut) {
      this.stats.droppedCut++
      return undefined
    }
    return this.transmitFaulty(link, payload, sequence)
  }

  private linkOf(from: Member, to: Member): Link {
    let link = from.links.get(to)
    if (link === undefined) {
      link = new Link(from, to)
      from.links.set(to, link)
    }
    if (link.version !== this.conditions.version) {
      link.version = this.conditions.version
      link.cut = this.conditions.isCut(from.selfId, to.selfId)
      link.conditions = this.conditions.conditionsFor(from.selfId, to.selfId)
      link.direct = !link.cut && isPerfect(link.conditions)
    }
    return link
  }

  /** The slow path: loss, duplication, reordering and delay, all drawn from the loom's Random. */
  private transmitFaulty(link: Link, payload: Uint8Array, sequence: number): Effect.Effect<void> {
    const self = this
    const c = link.conditions
    const rng = this.random
    const jitter = c.jitterMs > 0 ? rng.nextIntBetween(0, Math.floor(c.jitterMs) + 1) : Effect.succeed(0)
    return Effect.gen(function*() {
      // The draws happen in a fixed order whatever their outcome, so one seed gives one schedule.
      if (c.dropProbability > 0 && (yield* rng.next) < c.dropProbability) {
        self.stats.droppedRandom++
        return
      }
      const duplicate = c.duplicateProbability > 0 && (yield* rng.next) < c.duplicateProbability
      const reorder = c.reorderProbability > 0 && (yield* rng.next) < c.reorderProbability
      const delay = c.latencyMs + (yield* jitter)
      const holdBack = reorder ? yield* rng.nextIntBetween(1, Math.floor(c.reorderDelayMs) + 1) : 0
      const duplicateDelay = duplicate ? c.latencyMs + (yield* jitter) : 0
      if (self.policy._tag === "Reliable") {
        // Frames in flight count against the link's capacity, so a sender on a slow link is
        // back-pressured exactly like one on a fast link with a slow reader.
        yield* link.to.inbox.awaitRoom(link.from.selfId, () => link.inFlight)
      }
      if (link.to.torn !== undefined) {
        self.stats.droppedTorn++
        return
      }
      const now = self.clock.unsafeCurrentTimeMillis()
      const first = self.launch(link, payload, sequence, now, delay, reorder ? holdBack : 0)
      if (first !== undefined) yield* first
      if (duplicate) {
        self.stats.duplicated++
        const second = self.launch(link, payload, sequence, now, duplicateDelay, 0)
        if (second !== undefined) yield* second
      }
    })
  }

  /**
   * Schedules one copy of a frame. FIFO copies (`holdBack === 0`) are clamped to arrive no earlier
   * than the link's previous FIFO copy; a reordered copy skips the clamp and waits `holdBack` ms
   * more, so frames sent after it may overtake it.
   */
  private launch(link: Link, payload: Uint8Array, sequence: number, now: number, delay: number, holdBack: number) {
    let at = now + delay
    if (holdBack > 0) {
      at += holdBack
      this.stats.reordered++
    } else {
      if (at < link.lastDeliverAt) at = link.lastDeliverAt
      link.lastDeliverAt = at
    }
    if (at <= now && link.inFlight === 0) return this.offerNow(link, payload, sequence, false)
    link.inFlight++
    this.scheduler.schedule({ deliverAt: at, link, payload, sequence })
    return undefined
  }

  /**
   * Hands a frame to the receiver's inbox now. `mayWait`: the caller is the sender, which waits for
   * room under `Reliable`; the scheduler may not wait, and its frames were admitted against the
   * link's capacity when sent, so they are queued even over it.
   */
  private offerNow(link: Link, payload: Uint8Array, sequence: number, mayWait: boolean) {
    const to = link.to
    if (to.torn !== undefined) {
      this.stats.droppedTorn++
      return undefined
    }
    const from = link.from.selfId
    let outcome: OfferOutcome = to.inbox.tryOffer(from, payload)
    if (outcome === "full") {
      if (mayWait) {
        return Effect.flatMap(to.inbox.offer(from, payload), (o) => this.settle(from, to, o, sequence, payload.byteLength) ?? Effect.void)
      }
      outcome = to.inbox.forceOffer(from, payload)
    }
    return this.settle(from, to, outcome, sequence, payload.byteLength)
  }

  /** Accounts for what the inbox did with a frame; tears a `Strict` receiver on overflow. */
  private settle(from: PeerId, to: Member, outcome: OfferOutcome, sequence: number, size: number) {
    switch (outcome) {
      case "accepted":
        this.stats.delivered++
        this.trace?.record(this.clock.unsafeCurrentTimeMillis(), from, to.selfId, sequence, size)
        return undefined
      case "accepted-dropped-oldest":
        this.stats.delivered++
        this.stats.droppedOverflow++
        this.trace?.record(this.clock.unsafeCurrentTimeMillis(), from, to.selfId, sequence, size)
        return undefined
      case "overflow": {
        this.stats.droppedOverflow++
        const cause = new FrameOverflow({ from, to: to.selfId, capacity: this.policy.capacity })
        return this.tear(to, CloseReason.Error({ cause }))
      }
      case "full":
        // Callers resolve "full" (wait or force) before settling; reaching here is a fabric bug.
        return Effect.die(new Error(`in-memory loom: unresolved full link ${from} -> ${to.selfId}`))
      case "closed":
        this.stats.droppedTorn++
        return undefined
    }
  }

  /**
   * Delivers bytes to `to` stamped as sent by `from`, bypassing faults and the budget (test-only
   * raw injection). Waits for room under `Reliable`.
   */
  inject(to: PeerId, from: PeerId, payload: Uint8Array): Effect.Effect<void, PeerNotConnected> {
    return Effect.suspend(() => {
      const member = this.members.get(to)
      if (member === undefined) return Effect.fail(new PeerNotConnected({ peer: to }))
      return Effect.flatMap(member.inbox.offer(from, payload), (outcome) => {
        if (outcome === "accepted" || outcome === "accepted-dropped-oldest") this.stats.injected++
        return this.settle(from, member, outcome, 0, payload.byteLength) ?? Effect.void
      })
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Membership

  /**
   * Tears `member`: it leaves the mesh at once (synchronously, so no frame is routed to it any
   * more), its inbox closes (its `incoming` completes) and the returned Effect publishes its
   * `Torn` state and everyone's new `peers`. `undefined` when it was already torn.
   */
  tear(member: Member, reason: CloseReason): Effect.Effect<void> | undefined {
    if (member.torn !== undefined) return undefined
    member.torn = reason
    if (this.members.get(member.selfId) === member) this.members.delete(member.selfId)
    if (this.host === member) this.host = undefined
    member.inbox.close()
    member.links.clear()
    for (const other of this.members.values()) other.links.delete(member)
    return Effect.zipRight(
      SubscriptionRef.set(member.state, SeamState.Torn({ reason })),
      this.publishPeers([member])
    )
  }

  /**
   * Publishes `peers` to every live member and to `extra` (members just torn or woven). Each value
   * is computed when it is written, so concurrent membership changes always settle on the truth.
   */
  publishPeers(extra: ReadonlyArray<Member>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const targets = new Set<Member>(this.members.values())
      for (const m of extra) targets.add(m)
      return Effect.forEach(
        targets,
        (m) =>
          SubscriptionRef.update(m.peers, (): ReadonlySet<PeerId> =>
            m.torn !== undefined ? new Set([m.selfId]) : new Set(this.members.keys())),
        { discard: true }
      )
    })
  }
}
