/**
 * The fault model of the in-memory fabric: partitions (cuts and isolations) and per-link network
 * conditions (latency, jitter, loss, duplication, reordering).
 *
 * This is plain mutable bookkeeping owned by one loom. Every change bumps `version`, which lets
 * each link cache its effective conditions and re-read them only after a change: the hot path of
 * a healthy network then costs one integer comparison.
 */
import type { PeerId } from "../../../services/seam/PeerId.js"

/** Network conditions of one directed link (from → to). */
export interface LinkConditions {
  /** Fixed one-way delay in milliseconds. */
  readonly latencyMs: number
  /** Extra delay drawn uniformly from `0..jitterMs` (whole milliseconds) per frame. */
  readonly jitterMs: number
  /** Probability in [0, 1] that a frame is silently lost. */
  readonly dropProbability: number
  /** Probability in [0, 1] that a frame is delivered twice. */
  readonly duplicateProbability: number
  /**
   * Probability in [0, 1] that a frame leaves the link's FIFO order: it skips the per-link
   * ordering clamp and is held back by an extra `1..reorderDelayMs` ms, so later frames overtake it.
   */
  readonly reorderProbability: number
  /** Upper bound of the extra delay given to a reordered frame (≥ 1). */
  readonly reorderDelayMs: number
}

/** A perfect link: no delay, no loss, no duplication, no reordering. */
export const PERFECT_LINK: LinkConditions = {
  latencyMs: 0,
  jitterMs: 0,
  dropProbability: 0,
  duplicateProbability: 0,
  reorderProbability: 0,
  reorderDelayMs: 10
}

/** True when a link with these conditions needs no timer, no randomness and no fault handling. */
export const isPerfect = (c: LinkConditions): boolean =>
  c.latencyMs === 0 && c.jitterMs === 0 && c.dropProbability === 0 && c.duplicateProbability === 0 &&
  c.reorderProbability === 0

/**
 * Checks a (partial) set of conditions. Out-of-range values are programming errors in a test, so
 * they throw a `RangeError` (a defect once inside an Effect).
 */
export const validateConditions = (c: Partial<LinkConditions>): void => {
  const nonNegative = (name: keyof LinkConditions) => {
    const v = c[name]
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`${name} must be a finite number ≥ 0, got ${v}`)
    }
  }
  const probability = (name: keyof LinkConditions) => {
    const v = c[name]
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`)
  }
  nonNegative("latencyMs")
  nonNegative("jitterMs")
  probability("dropProbability")
  probability("duplicateProbability")
  probability("reorderProbability")
  if (c.reorderDelayMs !== undefined && !(Number.isFinite(c.reorderDelayMs) && c.reorderDelayMs >= 1)) {
    throw new RangeError(`reorderDelayMs must be a finite number ≥ 1, got ${c.reorderDelayMs}`)
  }
}

/** Partitions and link conditions of one loom. Peer ids, not seam incarnations: a cut or an
 * isolation outlives a crash/restart of the peer, like a broken cable would. */
export class NetworkConditions {
  /** Bumped on every change; links compare it to their cached copy. */
  version = 0
  private defaults: LinkConditions = PERFECT_LINK
  private readonly overrides = new Map<PeerId, Map<PeerId, Partial<LinkConditions>>>()
  /** One-way cuts: `cuts.get(from)` holds every `to` that `from` cannot reach. */
  private readonly cuts = new Map<PeerId, Set<PeerId>>()
  private readonly isolated = new Set<PeerId>()

  /** True when frames from `from` to `to` are silently lost by a partition. */
  isCut(from: PeerId, to: PeerId): boolean {
    if (this.isolated.has(from) || this.isolated.has(to)) return true
    return this.cuts.get(from)?.has(to) === true
  }

  /** The effective conditions of the link from → to: its overrides over the defaults. */
  conditionsFor(from: PeerId, to: PeerId): LinkConditions {
    const o = this.overrides.get(from)?.get(to)
    return o === undefined ? this.defaults : { ...this.defaults, ...o }
  }

  cutOneWay(from: PeerId, to: PeerId): void {
    let set = this.cuts.get(from)
    if (set === undefined) {
      set = new Set()
      this.cuts.set(from, set)
    }
    set.add(to)
    this.version++
  }

  isolate(peer: PeerId): void {
    this.isolated.add(peer)
    this.version++
  }

  /** Removes the cuts in both directions between `a` and `b` (an isolation stays). */
  healPair(a: PeerId, b: PeerId): void {
    this.cuts.get(a)?.delete(b)
    this.cuts.get(b)?.delete(a)
    this.version++
  }

  /** Removes `peer`'s isolation and every cut from or to it. */
  healPeer(peer: PeerId): void {
    this.isolated.delete(peer)
    this.cuts.delete(peer)
    for (const set of this.cuts.values()) set.delete(peer)
    this.version++
  }

  /** Removes every cut and isolation (conditions are kept). */
  healAll(): void {
    this.isolated.clear()
    this.cuts.clear()
    this.version++
  }

  /** Merges `c` into the defaults every link without overrides follows. */
  setDefaults(c: Partial<LinkConditions>): void {
    validateConditions(c)
    this.defaults = { ...this.defaults, ...c }
    this.version++
  }

  /** Merges `c` into the overrides of the directed link from → to. */
  setLink(from: PeerId, to: PeerId, c: Partial<LinkConditions>): void {
    validateConditions(c)
    let row = this.overrides.get(from)
    if (row === undefined) {
      row = new Map()
      this.overrides.set(from, row)
    }
    row.set(to, { ...row.get(to), ...c })
    this.version++
  }

  /** Back to a perfect network (partitions are kept; see `healAll`). */
  resetConditions(): void {
    this.defaults = PERFECT_LINK
    this.overrides.clear()
    this.version++
  }
}
