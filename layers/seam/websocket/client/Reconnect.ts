/**
 * How a joined client gets its link back, under the same seam:
 *
 * 1. **Resume** (a dropped link): the resume token takes the old slot back, retried until the
 *    host's reconnect window would have passed. Frames in flight meanwhile are lost.
 * 2. **Rejoin** (the host refused the resume — it restarted, or the window passed): a fresh join
 *    with the same peer id and fresh credentials, retried with jittered backoff forever or up to
 *    `maxRejoins` attempts. On a host that binds ids to credentials, the same identity takes its
 *    slot back at once even if a stale one is still held.
 *
 * The seam never changes: its `state` reads `Weaving` while this runs and `Woven` again after,
 * so a Raft node over `SeamRaftTransport.fromSeam(room.seam)` keeps its log and identity and needs
 * no code of its own. Progress is visible as `room.status`, as Effect metrics labelled by room and
 * peer, in the logs and as a `kuilt.ws.reconnect` span per episode.
 *
 * Final (the seam tears): the host ended the membership on purpose (`Superseded`,
 * `ProtocolViolation`), refused the identity (`AuthRefused`), speaks another protocol, or the
 * rejoin limit was reached.
 */
import type { Socket } from "@effect/platform"
import { Clock, Data, Duration, Effect, Either, Metric, Random } from "effect"
import { CloseReason } from "../../../../services/seam/SeamState.js"
import type { Cell } from "../../../../src/internal/Cell.js"
import type { Welcome } from "../Protocol.js"
import { RejectCode, rejectCodeName } from "../RejectCode.js"
import type { HostUnreachable } from "../WebSocketErrors.js"
import { JoinRefused } from "../WebSocketErrors.js"
import type { ClientLink } from "./ClientLink.js"
import type { ClientSession } from "./ClientSession.js"

/** The client's link to its host, for status displays and operators. */
export type LinkStatus = Data.TaggedEnum<{
  /** Admitted; frames flow. */
  Connected: {}
  /** The link dropped; taking the slot back with the resume token (`attempt` from 1). */
  Resuming: { readonly attempt: number; readonly lastError: string | undefined }
  /** The host refused the resume (or the window passed); joining afresh with the same identity. */
  Rejoining: { readonly attempt: number; readonly lastError: string | undefined }
  /** The seam tore; nothing more will be tried. */
  Closed: {}
}>
export const LinkStatus = Data.taggedEnum<LinkStatus>()

/** Backoff and limits of reconnection. */
export interface ReconnectPolicy {
  /** First retry delay. Default 25 ms. */
  readonly initialDelay?: Duration.DurationInput
  /** Longest retry delay (the delay doubles up to it). Default 1 s. */
  readonly maxDelay?: Duration.DurationInput
  /**
   * Fresh-join attempts after the host refused the resume, before the seam tears with
   * `Unreachable`. Default: unlimited (a Raft voter should wait for its host forever). `0`: never
   * rejoin (tear at once, as before rejoins existed).
   */
  readonly maxRejoins?: number
}

/** Codes after which neither resume nor rejoin can succeed. */
const FINAL: ReadonlySet<number> = new Set([
  RejectCode.Superseded,
  RejectCode.ProtocolViolation,
  RejectCode.AuthRefused,
  RejectCode.ProtocolMismatch,
  RejectCode.MalformedHello
])

/** Client metrics (labels `room`, `peer`). */
export const linkDrops = Metric.counter("kuilt_ws_client_link_drops_total", { incremental: true })
export const resumes = Metric.counter("kuilt_ws_client_resumes_total", { incremental: true })
export const rejoins = Metric.counter("kuilt_ws_client_rejoins_total", { incremental: true })
export const reconnectAttempts = Metric.counter("kuilt_ws_client_reconnect_attempts_total", { incremental: true })

type Connect = Effect.Effect<{ readonly link: ClientLink; readonly welcome: Welcome }, JoinRefused | HostUnreachable, Socket.WebSocketConstructor>

/**
 * Watches the current link and reconnects when it drops, until the session tears. `resume(token)`
 * and `rejoin` are connection attempts; each admitted link is handed to the session by the caller.
 */
export const supervise = (options: {
  readonly session: ClientSession
  readonly status: Cell<LinkStatus>
  readonly room: string
  readonly link: ClientLink
  readonly welcome: Welcome
  readonly resume: (token: Uint8Array) => Connect
  readonly rejoin: Connect
  readonly policy: ReconnectPolicy
}): Effect.Effect<void, never, Socket.WebSocketConstructor> => {
  const s = options.session
  const initial = Duration.toMillis(Duration.decode(options.policy.initialDelay ?? Duration.millis(25)))
  const cap = Duration.toMillis(Duration.decode(options.policy.maxDelay ?? Duration.seconds(1)))
  const maxRejoins = options.policy.maxRejoins ?? Infinity
  const tagged = (m: Metric.Metric.Counter<number>) => m.pipe(Metric.tagged("room", options.room), Metric.tagged("peer", s.selfId))
  const tear = (reason: CloseReason) => Effect.sync(() => {
    s.tear(reason, false)
    options.status.set(LinkStatus.Closed())
  })

  /** One reconnect episode; the new link, or `undefined` when the session tore. */
  const reconnect = (windowMs: number, downCode: number | undefined) =>
    Effect.gen(function*() {
      const deadline = (yield* Clock.currentTimeMillis) + windowMs
      let mode: "resume" | "rejoin" = "resume"
      let attempt = 0
      let rejoinAttempts = 0
      let lastError: string | undefined = downCode === undefined ? undefined : `link closed (${rejectCodeName(downCode)})`
      let delay = initial
      while (true) {
        if (s.torn !== undefined) return undefined
        const now = yield* Clock.currentTimeMillis
        if (mode === "resume" && now >= deadline) {
          mode = "rejoin"
          yield* Effect.logInfo("reconnect window passed; joining afresh with the same identity")
        }
        if (mode === "rejoin" && rejoinAttempts >= maxRejoins) {
          yield* tear(CloseReason.Unreachable())
          return undefined
        }
        attempt++
        if (mode === "rejoin") rejoinAttempts++
        options.status.set(mode === "resume" ? LinkStatus.Resuming({ attempt, lastError }) : LinkStatus.Rejoining({ attempt, lastError }))
        yield* Metric.increment(tagged(reconnectAttempts))
        const next = yield* Effect.either(mode === "resume" ? options.resume(s.token) : options.rejoin)
        if (Either.isRight(next)) {
          yield* Metric.increment(tagged(mode === "resume" ? resumes : rejoins))
          if (mode === "rejoin") yield* Effect.logInfo(`rejoined after ${attempt} attempt(s); the seam is unchanged`)
          return next.right
        }
        const error = next.left
        lastError = error.message
        if (error._tag === "JoinRefused") {
          if (FINAL.has(error.code)) {
            yield* Effect.logWarning(`reconnect refused for good: ${error.message}`)
            yield* tear(CloseReason.Error({ cause: error }))
            return undefined
          }
          if (error.code === RejectCode.ResumeTokenInvalid && mode === "resume") {
            // The host does not know this slot (it restarted, or the window passed there).
            mode = "rejoin"
            delay = initial
            if (maxRejoins === 0) {
              yield* tear(CloseReason.Error({ cause: error }))
              return undefined
            }
            yield* Effect.logInfo("the host refused the resume; joining afresh with the same identity")
            continue
          }
        }
        // Equal jitter: half the delay fixed, half random, so a room's clients spread out after a
        // host restart instead of reconnecting in lockstep.
        const jittered = delay / 2 + (yield* Random.next) * (delay / 2)
        const wait = mode === "resume" ? Math.min(jittered, Math.max(0, deadline - now)) : jittered
        yield* Effect.sleep(Duration.millis(wait))
        delay = Math.min(delay * 2, cap)
      }
    }).pipe(Effect.withSpan("kuilt.ws.reconnect", { attributes: { room: options.room, peer: s.selfId } }))

  return Effect.gen(function*() {
    let link = options.link
    let windowMs = options.welcome.reconnectWindowMs
    while (true) {
      const code = yield* link.down
      yield* link.release
      if (s.torn !== undefined) return
      s.down()
      yield* Metric.increment(tagged(linkDrops))
      if (code !== undefined && FINAL.has(code)) {
        yield* Effect.logWarning(`the host ended this membership (${rejectCodeName(code)})`)
        return yield* tear(CloseReason.Error({ cause: new JoinRefused({ code, reason: "the host ended this membership" }) }))
      }
      yield* Effect.logInfo(`link to the host lost (${code === undefined ? "no close code" : rejectCodeName(code)}); reconnecting`)
      const next = yield* reconnect(windowMs, code)
      if (next === undefined) return
      link = next.link
      windowMs = next.welcome.reconnectWindowMs
      options.status.set(LinkStatus.Connected())
    }
  }).pipe(Effect.annotateLogs({ room: options.room, peer: s.selfId }))
}

/**
 * The client's half of the heartbeat: the host pings every interval, so three silent intervals mean
 * a half-open link. The link is released at once (a closing handshake over a dead link could take
 * long), which makes the supervisor reconnect.
 */
export const heartbeat = (s: ClientSession, intervalMs: () => number): Effect.Effect<void> =>
  Effect.gen(function*() {
    let silent = 0
    while (s.torn === undefined) {
      yield* Effect.sleep(Duration.millis(intervalMs()))
      const link = s.link
      if (link === undefined || s.heard) {
        s.heard = false
        silent = 0
        continue
      }
      if (++silent >= 3) {
        silent = 0
        yield* link.release
      }
    }
  })
