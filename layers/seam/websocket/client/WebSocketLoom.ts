/**
 * `WebSocketLoom.join`: enter a room on a kuilt WebSocket host (layers/seam/websocket/node/WebSocketHost.ts) from
 * any runtime with a `WebSocketConstructor` (Node: `NodeSocket.layerWebSocketConstructor` from
 * `@effect/platform-node`, re-exported by `kuilt/node`; browsers: `WebSocketConstructorLive` from
 * `kuilt/browser`).
 *
 * The returned room's `seam` satisfies the Seam contract and stays the same object for the
 * membership's life: when the link drops it reports `Weaving` while the client resumes its slot or,
 * if the host refused the resume (it restarted), joins afresh with the same identity
 * (`Reconnect.ts`); frames sent or relayed meanwhile are lost (as in flight).
 */
import { Socket } from "@effect/platform"
import { Context, Duration, Effect, ExecutionStrategy, Exit, Layer, Scope, Stream } from "effect"
import type { Subscribable } from "effect"
import { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import { Loom } from "../../../../services/seam/Loom.js"
import type { LoomShape } from "../../../../services/seam/Loom.js"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { WeaveFailed } from "../../../../services/seam/SeamErrors.js"
import { CloseReason } from "../../../../services/seam/SeamState.js"
import type { InvalidChannelName } from "../../../../src/seam/errors.js"
import { Mux } from "../../../../src/seam/Mux.js"
import { connect } from "./ClientLink.js"
import type { ClientCounters } from "./ClientSession.js"
import { ClientSession } from "./ClientSession.js"
import { PROTOCOL_VERSION } from "../Protocol.js"
import type { Hello, Welcome } from "../Protocol.js"
import type { CredentialSource } from "../PeerToken.js"
import type { JoinRefused } from "../WebSocketErrors.js"
import { HostUnreachable } from "../WebSocketErrors.js"
import { Cell } from "../../../../src/internal/Cell.js"
import { heartbeat, LinkStatus, supervise } from "./Reconnect.js"
import type { ReconnectPolicy } from "./Reconnect.js"

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
  /** The joiner's session id (shown to the host's identity check). Default: empty. */
  readonly sessionId?: string
  /**
   * Credentials for the host's identity check: a fixed string (e.g. a peer token minted by a
   * server), or a `CredentialSource` asked before every attempt (`PeerToken.credentials(secret)`
   * mints a fresh token each time).
   */
  readonly credentials?: string | CredentialSource
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
  /** Backoff and limits of resumes and rejoins (`ReconnectPolicy`). Default: retry forever. */
  readonly reconnect?: ReconnectPolicy
}

/** A joined room. */
export interface WebSocketRoom {
  readonly room: string
  /** The id of the host that admitted the current link (from its `Welcome`). */
  readonly serverPeerId: string
  /** The room's members, including this peer (the seam's `peers`). */
  readonly roster: Subscribable.Subscribable<ReadonlySet<PeerId>>
  /** The room's seam: the same object across resumes and rejoins. */
  readonly seam: SeamShape
  /** The link to the host: connected, resuming, rejoining (with attempt and last error), closed. */
  readonly status: Subscribable.Subscribable<LinkStatus>
  /**
   * A named channel over the seam (a by-name `Mux`). The first call makes the mux the collector of the
   * seam's `incoming`: use either channels or `seam.incoming`, not both.
   */
  readonly channel: (name: string) => Effect.Effect<SeamShape, InvalidChannelName>
  /** Live client counters. */
  readonly counters: Readonly<ClientCounters>
}

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
    let serverPeerId = ""
    const check = (w: Welcome, requested: string | undefined): HostUnreachable | undefined => {
      if (w.protocolVersion !== PROTOCOL_VERSION) return new HostUnreachable({ reason: `host speaks protocol ${w.protocolVersion}` })
      if (ad.serverPeerId !== undefined && w.serverPeerId !== ad.serverPeerId) {
        return new HostUnreachable({ reason: `expected host ${ad.serverPeerId}, got ${w.serverPeerId}` })
      }
      if (requested !== undefined && w.peerId !== requested) return new HostUnreachable({ reason: `host assigned ${w.peerId}, asked for ${requested}` })
      if (w.room !== room) return new HostUnreachable({ reason: `host admitted to room ${w.room}, asked for ${room}` })
      return undefined
    }
    const credentialsFor = (peerId: string | undefined): Effect.Effect<string | undefined> => {
      const c = ad.credentials
      return typeof c === "function" ? c({ room, peerId }) : Effect.succeed(c)
    }
    /** One connection attempt as `peerId` (the requested id, or the session's own on reconnects). */
    const attempt = (peerId: string | undefined, resumeToken: Uint8Array | undefined) =>
      Effect.flatMap(credentialsFor(peerId), (credentials) => {
        const hello: Hello = {
          _tag: "Hello",
          protocolVersion: PROTOCOL_VERSION,
          room,
          displayName: ad.displayName,
          sessionId: ad.sessionId ?? "",
          ...(peerId === undefined ? {} : { peerId }),
          ...(credentials === undefined ? {} : { credentials }),
          ...(resumeToken === undefined ? {} : { resumeToken })
        }
        return connect({
          url: ad.url,
          hello,
          timeout,
          onWelcome: (w, link) => {
            const refused = check(w, peerId)
            if (refused !== undefined) return refused
            // Synchronously, so frames right behind the welcome find the session ready.
            session ??= new ClientSession(w, ad.delivery ?? DeliveryPolicy.reliable(), ad.maxBufferedFrames ?? 65_536, ad.maxPayloadBytes)
            session.up(link, w)
            serverPeerId = w.serverPeerId
            return undefined
          },
          onFrame: (m) => session?.onFrame(m),
          onBadFrame: () => {
            if (session !== undefined) session.counters.droppedBadFrames++
          }
        })
      })
    const first = yield* attempt(ad.peerId, undefined)
    const s = session!
    const status = new Cell<LinkStatus>(LinkStatus.Connected())
    const scope = yield* Effect.scope
    // Finalizers run last-in first-out: tear (saying Bye), then free the last connection.
    yield* Scope.addFinalizer(scope, Effect.suspend(() => s.lastLink?.release ?? Effect.void))
    yield* Scope.addFinalizer(scope, Effect.sync(() => {
      s.tear(CloseReason.Normal(), true)
      status.set(LinkStatus.Closed())
    }))
    yield* Effect.forkIn(
      supervise({
        session: s,
        status,
        room,
        link: first.link,
        welcome: first.welcome,
        resume: (token) => attempt(s.selfId, token),
        rejoin: attempt(s.selfId, undefined),
        policy: ad.reconnect ?? {}
      }),
      scope
    )
    yield* Effect.forkIn(heartbeat(s, () => s.heartbeatIntervalMs), scope)
    const seam = s.seam()
    // A tear from the seam itself (close, overflow) is final for the status too.
    yield* Effect.forkIn(
      Stream.runForEach(seam.state.changes, (st) => Effect.sync(() => st._tag === "Torn" && status.set(LinkStatus.Closed()))),
      scope
    )
    // Made on the first `channel` call only: the mux takes over the seam's single collector.
    const mux = yield* Effect.cached(Scope.extend(Mux.byName(seam), scope))
    const result: WebSocketRoom = {
      room,
      get serverPeerId() {
        return serverPeerId
      },
      roster: seam.peers,
      seam,
      status,
      channel: (name) => Effect.flatMap(mux, (m) => m.channel(name)),
      counters: s.counters
    }
    return result
  })

/** What every weave of a `WebSocketLoom` shares: the host, credentials, limits and policies. */
export type WebSocketLoomConfig = Omit<WebSocketAdvertisement, "room" | "peerId" | "displayName"> & {
  /** Display name sent in every hello. Default: the peer id, or `"kuilt"`. */
  readonly displayName?: string
}

/**
 * What a `WebSocketLoom` offers: a `Loom` whose `host(pattern)` and `join(tag)` weave a seam in room
 * `sessionName` as peer `peerKey`, so code written against `Loom` (a game, a Raft node) runs over a
 * relay host by swapping the Layer, plus `joinRoom` for the room-level handle (roster, status,
 * channels, counters).
 *
 * On a relay, rooms exist while they have members: `join` of an empty room creates it, and `host`
 * refuses (`WeaveFailed`) only a room that already has live members. `maxPeers` is the host's
 * `roomCapacity`, not per session; `roomKey` is not supported (bind peers with the host's identity
 * instead) and is refused rather than ignored.
 */
export interface WebSocketLoomShape extends LoomShape {
  readonly config: WebSocketLoomConfig
  readonly joinRoom: (
    room: string,
    options?: { readonly peerId?: string; readonly displayName?: string }
  ) => Effect.Effect<WebSocketRoom, JoinRefused | HostUnreachable, Scope.Scope>
}

const weaveFailed = (e: JoinRefused | HostUnreachable) => new WeaveFailed({ reason: e.message })

/** A loom over the host at `config.url`, using the `WebSocketConstructor` of the current context. */
export const make = (config: WebSocketLoomConfig): Effect.Effect<WebSocketLoomShape, never, Socket.WebSocketConstructor> =>
  // Only the constructor is captured: the caller's whole context would carry its Scope along.
  Effect.map(Socket.WebSocketConstructor, (constructor) => {
    const joinRoom: WebSocketLoomShape["joinRoom"] = (room, options = {}) =>
      join({
        ...config,
        room,
        displayName: options.displayName ?? config.displayName ?? options.peerId ?? "kuilt",
        ...(options.peerId === undefined ? {} : { peerId: options.peerId })
      }).pipe(Effect.provideService(Socket.WebSocketConstructor, constructor))
    const weave = (sessionName: string, peerKey: string | undefined, roomKey: string | undefined) =>
      roomKey !== undefined
        ? Effect.fail(new WeaveFailed({ reason: "roomKey is not supported by WebSocketLoom; bind peers with the host's identity" }))
        : Effect.mapError(joinRoom(sessionName, peerKey === undefined ? {} : { peerId: peerKey }), weaveFailed)
    const loom: WebSocketLoomShape = {
      config,
      joinRoom,
      host: (pattern) =>
        Effect.gen(function*() {
          const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
          const joined = yield* weave(pattern.sessionName, pattern.peerKey, pattern.roomKey).pipe(
            Scope.extend(scope),
            Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
          )
          const others = [...(yield* joined.roster.get)].filter((p) => p !== joined.seam.selfId)
          if (others.length > 0) {
            yield* Scope.close(scope, Exit.void)
            return yield* new WeaveFailed({ reason: `session "${pattern.sessionName}" is already live (${others.length} peers)` })
          }
          return joined.seam
        }),
      join: (tag) => Effect.map(weave(tag.sessionName, tag.peerKey, tag.roomKey), (r) => r.seam)
    }
    return loom
  })

/** One loom made with `config`, provided both as the `Loom` and as the `WebSocketLoom`. */
export const layer = (config: WebSocketLoomConfig): Layer.Layer<Loom | WebSocketLoom, never, Socket.WebSocketConstructor> =>
  Layer.effectContext(Effect.map(make(config), (loom) => Context.make(WebSocketLoom, loom).pipe(Context.add(Loom, loom))))

/**
 * The WebSocket client fabric as a service (its interface is `WebSocketLoomShape`), with its
 * constructors: `WebSocketLoom.join(advertisement)` for one room, `WebSocketLoom.make(config)` for
 * a `Loom` in the caller's context, `WebSocketLoom.layer(config)` providing `Loom` and
 * `WebSocketLoom`.
 */
export class WebSocketLoom extends Context.Tag("kuilt/WebSocketLoom")<WebSocketLoom, WebSocketLoomShape>() {
  static readonly join = join
  static readonly make = make
  static readonly layer = layer
}
