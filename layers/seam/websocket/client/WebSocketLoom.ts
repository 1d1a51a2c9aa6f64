/**
 * `WebSocketLoom.join`: enter a room on a kuilt WebSocket host (layers/seam/websocket/node/WebSocketHost.ts) from
 * any runtime with a `WebSocketConstructor` (Node: `NodeSocket.layerWebSocketConstructor` from
 * `@effect/platform-node`, re-exported by `kuilt/node`; browsers: `WebSocketConstructorLive` from
 * `kuilt/browser`).
 *
 * The returned room's `seam` satisfies the Seam contract. When the link drops (a network blip, a
 * heartbeat timeout, the host disconnecting a slow reader) the seam reports `Weaving` and the loom
 * resumes the same slot with its resume token, retrying until the host's reconnect window ends;
 * frames sent or relayed meanwhile are lost (as in flight). The seam tears (`Unreachable`) when the
 * window passes or the host refuses the resume.
 */
import type { Socket } from "@effect/platform"
import { Clock, Duration, Effect, Either, Scope } from "effect"
import type { Subscribable } from "effect"
import { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { CloseReason } from "../../../../services/seam/SeamState.js"
import type { InvalidChannelName } from "../../../../src/seam/errors.js"
import { Mux } from "../../../../src/seam/Mux.js"
import type { ClientLink } from "./ClientLink.js"
import { connect } from "./ClientLink.js"
import type { ClientCounters } from "./ClientSession.js"
import { ClientSession } from "./ClientSession.js"
import { PROTOCOL_VERSION } from "../Protocol.js"
import type { Hello, Welcome } from "../Protocol.js"
import { RejectCode } from "../RejectCode.js"
import { HostUnreachable, JoinRefused } from "../WebSocketErrors.js"

/** Where and how to join (what a host advertises plus who the joiner is). */
export interface WebSocketAdvertisement {
  /** The host's URL, e.g. `ws://127.0.0.1:4000/kuilt` (`WebSocketHost.url`). */
  readonly url: string
  /** When set, a `Welcome` from a host with another id is refused (`HostUnreachable`). */
  readonly serverPeerId?: string
  readonly displayName: string
  /** Room name (1..255 UTF-8 bytes). Default `"default"`. */
  readonly room?: string
  /** A fixed peer id (Raft needs stable ids); refused with `PeerIdInUse` if live. Default: assigned. */
  readonly peerId?: string
  /** The joiner's session id (shown to the host's auth hook). Default: empty. */
  readonly sessionId?: string
  /** Opaque credentials for the host's authentication hook. */
  readonly credentials?: string
  /** Cap the payload budget below the host's (e.g. to match another fabric). */
  readonly maxPayloadBytes?: number
  /** Inbox policy per sender. Default `Reliable(256)`. */
  readonly delivery?: DeliveryPolicy
  /**
   * Most frames queued for the collector before the seam tears with `FrameOverflow` (under
   * `Reliable`, which cannot push back on the host without stalling every sender). Default 65 536.
   */
  readonly maxBufferedFrames?: number
  /** Time to connect and be admitted, per attempt. Default 10 s. */
  readonly connectTimeout?: Duration.DurationInput
}

/** A joined room. */
export interface WebSocketRoom {
  readonly room: string
  /** The host's id (from its `Welcome`). */
  readonly serverPeerId: string
  /** The room's members, including this peer (the seam's `peers`). */
  readonly roster: Subscribable.Subscribable<ReadonlySet<PeerId>>
  readonly seam: SeamShape
  /**
   * A named channel over the seam (a by-name `Mux`). The first call makes the mux the collector of the
   * seam's `incoming`: use either channels or `seam.incoming`, not both.
   */
  readonly channel: (name: string) => Effect.Effect<SeamShape, InvalidChannelName>
  /** Live client counters. */
  readonly counters: Readonly<ClientCounters>
}

/** Close codes after which resuming is pointless: the host ended this membership on purpose. */
const FINAL_CODES: ReadonlySet<number> = new Set([RejectCode.Superseded, RejectCode.ProtocolViolation, RejectCode.ResumeTokenInvalid])

/**
 * Joins a room. Fails with `JoinRefused` (the host's `Reject`: room full, peer id in use, auth
 * refused, …) or `HostUnreachable`. The membership lives in the caller's scope: closing it closes
 * the seam, which says `Bye` so the host frees the slot at once.
 */
export const join = (
  ad: WebSocketAdvertisement
): Effect.Effect<WebSocketRoom, JoinRefused | HostUnreachable, Scope.Scope | Socket.WebSocketConstructor> =>
  Effect.gen(function*() {
    const room = ad.room ?? "default"
    const timeout = Duration.decode(ad.connectTimeout ?? Duration.seconds(10))
    let session: ClientSession | undefined
    const check = (w: Welcome, requested: string | undefined): HostUnreachable | undefined => {
      if (w.protocolVersion !== PROTOCOL_VERSION) return new HostUnreachable({ reason: `host speaks protocol ${w.protocolVersion}` })
      if (ad.serverPeerId !== undefined && w.serverPeerId !== ad.serverPeerId) {
        return new HostUnreachable({ reason: `expected host ${ad.serverPeerId}, got ${w.serverPeerId}` })
      }
      if (requested !== undefined && w.peerId !== requested) return new HostUnreachable({ reason: `host assigned ${w.peerId}, asked for ${requested}` })
      if (w.room !== room) return new HostUnreachable({ reason: `host admitted to room ${w.room}, asked for ${room}` })
      return undefined
    }
    const attempt = (hello: Hello) =>
      connect({
        url: ad.url,
        hello,
        timeout,
        onWelcome: (w, link) => {
          const refused = check(w, hello.peerId)
          if (refused !== undefined) return refused
          // Synchronously, so frames right behind the welcome find the session ready.
          session ??= new ClientSession(w, ad.delivery ?? DeliveryPolicy.reliable(), ad.maxBufferedFrames ?? 65_536, ad.maxPayloadBytes)
          session.up(link, w)
          return undefined
        },
        onFrame: (m) => session?.onFrame(m),
        onBadFrame: () => {
          if (session !== undefined) session.counters.droppedBadFrames++
        }
      })
    const baseHello: Hello = {
      _tag: "Hello",
      protocolVersion: PROTOCOL_VERSION,
      room,
      displayName: ad.displayName,
      sessionId: ad.sessionId ?? "",
      ...(ad.peerId === undefined ? {} : { peerId: ad.peerId }),
      ...(ad.credentials === undefined ? {} : { credentials: ad.credentials })
    }
    const first = yield* attempt(baseHello)
    const s = session!
    const scope = yield* Effect.scope
    // Finalizers run last-in first-out: tear (saying Bye), then free the last connection.
    yield* Scope.addFinalizer(scope, Effect.suspend(() => s.lastLink?.release ?? Effect.void))
    yield* Scope.addFinalizer(scope, Effect.sync(() => s.tear(CloseReason.Normal(), true)))
    const resume = (token: Uint8Array) => attempt({ ...baseHello, peerId: s.selfId, resumeToken: token })
    yield* Effect.forkIn(supervise(s, first.link, first.welcome, resume), scope)
    yield* Effect.forkIn(heartbeat(s, first.welcome.heartbeatIntervalMs), scope)
    const seam = s.seam()
    // Made on the first `channel` call only: the mux takes over the seam's single collector.
    const mux = yield* Effect.cached(Scope.extend(Mux.byName(seam), scope))
    const result: WebSocketRoom = {
      room,
      serverPeerId: first.welcome.serverPeerId,
      roster: seam.peers,
      seam,
      channel: (name) => Effect.flatMap(mux, (m) => m.channel(name)),
      counters: s.counters
    }
    return result
  })

/**
 * Watches the current link; when it drops, resumes until the reconnect window ends. Backoff:
 * 25 ms doubling to 1 s, never past the window.
 */
const supervise = (
  s: ClientSession,
  firstLink: ClientLink,
  firstWelcome: Welcome,
  resume: (token: Uint8Array) => Effect.Effect<{ readonly link: ClientLink; readonly welcome: Welcome }, JoinRefused | HostUnreachable, Socket.WebSocketConstructor>
): Effect.Effect<void, never, Socket.WebSocketConstructor> =>
  Effect.gen(function*() {
    let link = firstLink
    let windowMs = firstWelcome.reconnectWindowMs
    while (true) {
      const code = yield* link.down
      yield* link.release
      if (s.torn !== undefined) return
      s.down()
      if (code !== undefined && FINAL_CODES.has(code)) {
        return s.tear(CloseReason.Error({ cause: new JoinRefused({ code, reason: "the host ended this membership" }) }), false)
      }
      const deadline = (yield* Clock.currentTimeMillis) + windowMs
      let delay = 25
      while (true) {
        if (s.torn !== undefined) return
        const now = yield* Clock.currentTimeMillis
        if (now >= deadline) return s.tear(CloseReason.Unreachable(), false)
        const next = yield* Effect.either(resume(s.token))
        if (Either.isRight(next)) {
          link = next.right.link
          windowMs = next.right.welcome.reconnectWindowMs
          break
        }
        const error = next.left
        if (error._tag === "JoinRefused" && FINAL_CODES.has(error.code)) {
          return s.tear(CloseReason.Error({ cause: error }), false)
        }
        yield* Effect.sleep(Duration.millis(Math.max(0, Math.min(delay, deadline - now))))
        delay = Math.min(delay * 2, 1000)
      }
    }
  })

/**
 * The client's half of the heartbeat: the host pings every interval, so three silent intervals mean
 * a half-open link. The link is released at once (a closing handshake over a dead link could take
 * long), which makes the supervisor resume.
 */
const heartbeat = (s: ClientSession, intervalMs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    let silent = 0
    while (s.torn === undefined) {
      yield* Effect.sleep(Duration.millis(intervalMs))
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

/** The client loom, as a namespace (`WebSocketLoom.join`). */
export const WebSocketLoom = { join }
