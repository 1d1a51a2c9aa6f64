/**
 * `InMemoryLoom`: the reference fabric (docs/ARCHITECTURE.md, "Seams"). One loom is one flat mesh in one
 * process: every seam can address every other live seam, frames are handed over by reference.
 *
 * It is what deterministic tests and the Raft simulator run on, so it offers, beyond the `Loom`
 * contract, fault injection (partitions, latency, jitter, loss, duplication, reordering, crashes,
 * raw frames), counters and a delivery trace. Everything random comes from one `Random` (seeded by
 * `seed`) and everything timed from Effect's `Clock`, so under `TestClock` a seeded run is
 * reproducible frame for frame.
 *
 * Delivery is per link (sender → receiver) through the receiver's `Inbox`, bounded by the
 * `DeliveryPolicy` capacity: `Reliable` suspends the sender while the link is full (frames still in
 * flight count), `Lossy` drops the link's oldest queued frame, `Strict` tears the receiver with
 * `FrameOverflow`.
 */
import type { Option, Scope } from "effect"
import { Context, Effect, Layer, Option as O, Random } from "effect"
import { DeliveryPolicy } from "../../../services/seam/DeliveryPolicy.js"
import { Loom, type LoomShape } from "../../../services/seam/Loom.js"
import type { PeerId } from "../../../services/seam/PeerId.js"
import type { PeerNotConnected } from "../../../services/seam/SeamErrors.js"
import { CloseReason } from "../../../services/seam/SeamState.js"
import type { LinkConditions } from "./Conditions.js"
import { NetworkConditions } from "./Conditions.js"
import { Mesh } from "./Mesh.js"
import type { LoomStats, LoomTrace } from "./Stats.js"
import { DEFAULT_TRACE_LIMIT, DeliveryTrace, EMPTY_TRACE } from "./Stats.js"
import { weave } from "./Weave.js"

export type { LinkConditions } from "./Conditions.js"
export { PERFECT_LINK } from "./Conditions.js"
export type { DropCounts, LoomStats, LoomTrace, TraceEntry } from "./Stats.js"

/** How to make an `InMemoryLoom`. */
export interface InMemoryLoomOptions {
  /** Per-link queue policy and capacity. Default `DeliveryPolicy.reliable()` (256 frames). */
  readonly policy?: DeliveryPolicy
  /** The payload budget every seam reports and enforces. Default: none (seams report `None`). */
  readonly maxPayloadBytes?: number
  /** Seeds the loom's own `Random`; without it the `Random` in context at `make` is used. */
  readonly seed?: number
  /**
   * Records every delivery (`loom.trace`). `true` keeps the last 100 000 entries; `{ limit }`
   * chooses how many (0 keeps only the count and the rolling hash). Default off: it costs a hash
   * per frame.
   */
  readonly trace?: boolean | { readonly limit: number }
}

/**
 * Fault controls. All are Effects that take effect at once and are deterministic: partitions are
 * silent (no `peers` change, `sendTo` succeeds, the frame is counted in `dropped.cut`), like a
 * network partition. Partitions and conditions are keyed by peer id, so they survive a peer's
 * crash and re-join. Cuts are checked when a frame is sent; frames already in flight still arrive.
 */
export interface LoomFaults {
  /** Cuts both directions between `a` and `b`. */
  readonly cut: (a: PeerId, b: PeerId) => Effect.Effect<void>
  /** Cuts only `from` → `to`. */
  readonly cutOneWay: (from: PeerId, to: PeerId) => Effect.Effect<void>
  /** Cuts every link from and to `peer`. */
  readonly isolate: (peer: PeerId) => Effect.Effect<void>
  /**
   * `heal()` removes every cut and isolation; `heal(a)` removes `a`'s isolation and every cut from
   * or to `a`; `heal(a, b)` removes the cuts in both directions between `a` and `b` only.
   */
  readonly heal: (a?: PeerId, b?: PeerId) => Effect.Effect<void>
  /** Same as `heal()`. */
  readonly healAll: Effect.Effect<void>
  /** Merges into the conditions of every link without its own override. Dies on invalid values. */
  readonly setConditions: (conditions: Partial<LinkConditions>) => Effect.Effect<void>
  /** Merges into the conditions of the directed link `from` → `to`. Dies on invalid values. */
  readonly setLinkConditions: (from: PeerId, to: PeerId, conditions: Partial<LinkConditions>) => Effect.Effect<void>
  /** Back to a perfect network (no delay, loss, duplication or reordering). Partitions stay. */
  readonly resetConditions: Effect.Effect<void>
  /** Crashes `peer`'s seam with `reason` (default `Unreachable`). `false` if it was not live. */
  readonly tear: (peer: PeerId, reason?: CloseReason) => Effect.Effect<boolean>
  /**
   * Delivers `payload` to `to` as if `from` had sent it, bypassing partitions, conditions and the
   * budget (`from` need not be a member). Waits for room under `Reliable`. Fails with
   * `PeerNotConnected` when `to` is not live.
   */
  readonly inject: (to: PeerId, from: PeerId, payload: Uint8Array) => Effect.Effect<void, PeerNotConnected>
}

/** An in-memory mesh: a `Loom` plus fault controls and observability. */
export interface InMemoryLoomShape extends LoomShape {
  readonly policy: DeliveryPolicy
  /** The budget every seam of this loom reports. */
  readonly maxPayloadBytes: Option.Option<number>
  readonly faults: LoomFaults
  /** A snapshot of the counters. */
  readonly stats: Effect.Effect<LoomStats>
  /** A snapshot of the delivery trace (empty, hash of nothing, when tracing is off). */
  readonly trace: Effect.Effect<LoomTrace>
  /** Ids of the live seams, in the order they were woven. */
  readonly livePeers: Effect.Effect<ReadonlyArray<PeerId>>
  /** Frames waiting on the delay heap. */
  readonly pendingDeliveries: Effect.Effect<number>
}


/**
 * Makes a loom whose delivery fiber lives in the caller's scope. Closing that scope tears every
 * live seam with `Unreachable` and refuses further weaves. Invalid options (non-positive budget or
 * trace limit) are defects.
 */
export const make = (options: InMemoryLoomOptions = {}): Effect.Effect<InMemoryLoomShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const budget = options.maxPayloadBytes
    if (budget !== undefined && !(Number.isSafeInteger(budget) && budget >= 0)) {
      return yield* Effect.dieMessage(`maxPayloadBytes must be an integer ≥ 0, got ${budget}`)
    }
    const policy = options.policy ?? DeliveryPolicy.reliable()
    const random = options.seed === undefined ? yield* Effect.random : Random.make(options.seed)
    const clock = yield* Effect.clock
    const traceOption = options.trace ?? false
    // The constructor throws a RangeError on a bad limit; inside Effect.sync that is a defect.
    const trace = traceOption === false
      ? undefined
      : yield* Effect.sync(() => new DeliveryTrace(traceOption === true ? DEFAULT_TRACE_LIMIT : traceOption.limit))
    const conditions = new NetworkConditions()
    const mesh = new Mesh(policy, budget, conditions, random, clock, trace)

    yield* Effect.forkScoped(mesh.scheduler.run)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        mesh.closed = true
        const tears = Array.from(mesh.members.values(), (m) => mesh.tear(m, CloseReason.Unreachable()) ?? Effect.void)
        return Effect.all(tears, { discard: true })
      })
    )

    const change = (f: () => void): Effect.Effect<void> => Effect.sync(f)
    const faults: LoomFaults = {
      cut: (a, b) =>
        change(() => {
          conditions.cutOneWay(a, b)
          conditions.cutOneWay(b, a)
        }),
      cutOneWay: (from, to) => change(() => conditions.cutOneWay(from, to)),
      isolate: (peer) => change(() => conditions.isolate(peer)),
      heal: (a, b) =>
        change(() => {
          if (a === undefined) conditions.healAll()
          else if (b === undefined) conditions.healPeer(a)
          else conditions.healPair(a, b)
        }),
      healAll: change(() => conditions.healAll()),
      setConditions: (c) => change(() => conditions.setDefaults(c)),
      setLinkConditions: (from, to, c) => change(() => conditions.setLink(from, to, c)),
      resetConditions: change(() => conditions.resetConditions()),
      tear: (peer, reason = CloseReason.Unreachable()) =>
        Effect.suspend(() => {
          const member = mesh.members.get(peer)
          if (member === undefined) return Effect.succeed(false)
          return Effect.as(mesh.tear(member, reason) ?? Effect.void, true)
        }),
      inject: (to, from, payload) => mesh.inject(to, from, payload)
    }

    const loom: InMemoryLoomShape = {
      host: (pattern) => weave(mesh, { _tag: "Host", pattern }),
      join: (tag) => weave(mesh, { _tag: "Join", tag }),
      policy,
      maxPayloadBytes: budget === undefined ? O.none() : O.some(budget),
      faults,
      stats: Effect.sync(() => mesh.stats.snapshot()),
      trace: Effect.sync(() => trace?.snapshot() ?? EMPTY_TRACE),
      livePeers: Effect.sync(() => Array.from(mesh.members.keys())),
      pendingDeliveries: Effect.sync(() => mesh.scheduler.pending)
    }
    return loom
  })

/**
 * One loom made with `options`, provided both as the `Loom` (what apps weave seams from) and as
 * the `InMemoryLoom` (its faults, counters and trace, for tests). Its delivery fiber and seams end
 * with the Layer's scope.
 */
export const layer = (options: InMemoryLoomOptions = {}): Layer.Layer<Loom | InMemoryLoom> =>
  Layer.scopedContext(
    Effect.map(make(options), (loom) => Context.make(InMemoryLoom, loom).pipe(Context.add(Loom, loom)))
  )

/**
 * The in-memory fabric as a service (its interface is `InMemoryLoomShape`, a `Loom` with fault
 * controls and observability), with its constructors: `InMemoryLoom.make(options)` in the
 * caller's scope, `InMemoryLoom.layer(options)` providing `Loom` and `InMemoryLoom`.
 */
export class InMemoryLoom extends Context.Tag("kuilt/InMemoryLoom")<InMemoryLoom, InMemoryLoomShape>() {
  static readonly make = make
  static readonly layer = layer
}
