/**
 * The voter core across server processes: each server runs one voter and a `WebSocketRelay` on its
 * own HTTP port; every pair of voters is linked directly, with no relay host between them.
 *
 * - One rule decides who dials: the lower id dials the higher (`dialer`). It joins the higher
 *   voter's relay in the mesh room (`MESH_ROOM`) as itself, authenticated by a `PeerToken` minted
 *   with the cluster secret (`MeshIdentity.ts` checks it there), pinning the relay's id to the
 *   higher voter's, so a misdirected URL is refused rather than trusted.
 * - The higher voter is an in-process member of its own mesh room (`WebSocketRelay.member`), which
 *   every lower voter's link reaches.
 * - A link that drops is resumed, then rejoined, by the WebSocket client itself (jittered backoff,
 *   forever); a link that tears for good, or never came up, is dialled again with full-jitter
 *   exponential backoff. Each new link is swapped under the voter's one `MeshSeam`, so the node,
 *   its log and its identity never notice more than peers coming and going.
 */
import type { Socket } from "@effect/platform"
import { Duration, Effect, ExecutionStrategy, Exit, Random, Scope, Stream } from "effect"
import type { MeshLinkStatus, VoterMeshShape } from "../../../../services/cluster/VoterMesh.js"
import { dialer } from "../../../../services/cluster/VoterMesh.js"
import type { NodeId } from "../../../../services/raft/NodeId.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { WebSocketLoom } from "../../websocket/client/WebSocketLoom.js"
import type { WebSocketRoom } from "../../websocket/client/WebSocketLoom.js"
import * as PeerToken from "../../websocket/PeerToken.js"
import type { WebSocketRelayShape } from "../../websocket/node/WebSocketRelay.js"
import { MeshSeam } from "../MeshSeam.js"
import { MESH_ROOM } from "./MeshIdentity.js"

/** A voter of the core and the relay URL of the server that runs it. */
export interface MeshVoter {
  readonly id: string
  /** `ws://host:port/path` of its server's relay (needed for every voter this one dials). */
  readonly url: string
}

/** Options of a WebSocket voter mesh. */
export interface WebSocketVoterMeshOptions {
  /** The voter this process runs. */
  readonly self: string
  /** Every voter of the core (including `self`), with its server's relay URL. */
  readonly voters: ReadonlyArray<MeshVoter>
  /** This server's relay (where lower voters dial in). Its `serverPeerId` must be `self`. */
  readonly relay: Pick<WebSocketRelayShape, "member" | "rooms">
  /** The cluster secret (at least 16 bytes), the same on every server. */
  readonly secret: string | Uint8Array
  /** Time to connect and be admitted, per attempt. Default 5 s. */
  readonly connectTimeout?: Duration.DurationInput
  /** First redial delay (full jitter, doubling). Default 100 ms. */
  readonly redialBase?: Duration.DurationInput
  /** Longest redial delay. Default 2 s. */
  readonly redialCap?: Duration.DurationInput
}

interface LinkTrack {
  readonly to: NodeId
  readonly role: "dials" | "accepts"
  room: WebSocketRoom | undefined
  up: boolean
  drops: number
  lastError: string | undefined
}

/**
 * Links `self` to every other voter, in the caller's scope (closing it closes every link). Fails
 * with `InvalidPeerSecret` for a secret under 16 bytes.
 */
export const make = (
  options: WebSocketVoterMeshOptions
): Effect.Effect<VoterMeshShape, PeerToken.InvalidPeerSecret, Scope.Scope | Socket.WebSocketConstructor> =>
  Effect.gen(function*() {
    const self = options.self as NodeId
    const voters = options.voters.map((v) => v.id as NodeId)
    const credentials = yield* PeerToken.credentials(options.secret)
    const scope = yield* Effect.scope
    const route = (peer: PeerId) => (dialer(peer, self) === self ? `dial:${peer}` : "accept")
    const mesh = yield* MeshSeam.make(self as string as PeerId, voters as ReadonlyArray<string> as ReadonlyArray<PeerId>, route)
    const base = Duration.toMillis(Duration.decode(options.redialBase ?? Duration.millis(100)))
    const cap = Duration.toMillis(Duration.decode(options.redialCap ?? Duration.seconds(2)))
    const timeout = options.connectTimeout ?? Duration.seconds(5)
    const tracks = new Map<NodeId, LinkTrack>()
    for (const v of voters) {
      if (v !== self) tracks.set(v, { to: v, role: dialer(v, self) === self ? "dials" : "accepts", room: undefined, up: false, drops: 0, lastError: undefined })
    }
    const backoff = (attempt: number) =>
      Effect.flatMap(Random.next, (r) => Effect.sleep(Duration.millis(r * Math.min(cap, base * 2 ** Math.min(attempt, 20)))))
    /** Completes when `seam` is torn. */
    const torn = (seam: SeamShape) => Stream.runDrain(Stream.takeUntil(seam.state.changes, (s) => s._tag === "Torn"))

    // Up/down bookkeeping from the mesh seam's reachability, for `links` and drop counts.
    yield* Effect.forkIn(
      Stream.runForEach(mesh.seam.peers.changes, (peers) =>
        Effect.sync(() => {
          for (const t of tracks.values()) {
            const up = peers.has(t.to as string as PeerId)
            if (t.up && !up) t.drops++
            t.up = up
          }
        })),
      scope
    )

    const dial = (peer: MeshVoter) =>
      Effect.gen(function*() {
        const track = tracks.get(peer.id as NodeId)!
        let attempt = 0
        while (true) {
          const linkScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
          const joined = yield* WebSocketLoom.join({
            url: peer.url,
            room: MESH_ROOM,
            peerId: self,
            serverPeerId: peer.id,
            displayName: `voter ${self}`,
            credentials,
            connectTimeout: timeout
          }).pipe(Scope.extend(linkScope), Effect.either)
          if (joined._tag === "Left") {
            track.lastError = joined.left.message
            yield* Scope.close(linkScope, Exit.void)
            yield* backoff(attempt++)
            continue
          }
          attempt = 0
          track.room = joined.right
          yield* mesh.setBacking(route(peer.id as PeerId), joined.right.seam)
          yield* torn(joined.right.seam)
          track.lastError = "the link tore"
          track.room = undefined
          yield* Scope.close(linkScope, Exit.void)
          yield* backoff(attempt++)
        }
      })

    const accept = Effect.gen(function*() {
      let attempt = 0
      while (true) {
        const memberScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const member = yield* options.relay.member(MESH_ROOM, self).pipe(Scope.extend(memberScope), Effect.either)
        if (member._tag === "Left") {
          for (const t of tracks.values()) if (t.role === "accepts") t.lastError = member.left.reason
          yield* Scope.close(memberScope, Exit.void)
          yield* backoff(attempt++)
          continue
        }
        attempt = 0
        yield* mesh.setBacking("accept", member.right)
        yield* torn(member.right)
        yield* Scope.close(memberScope, Exit.void)
        yield* backoff(attempt++)
      }
    })

    const others = options.voters.filter((v) => v.id !== self)
    if (others.some((v) => dialer(v.id, self) === v.id)) yield* Effect.forkIn(accept, scope)
    for (const v of others) if (dialer(v.id, self) === self) yield* Effect.forkIn(dial(v), scope)

    const links = Effect.gen(function*() {
      const rooms = yield* options.relay.rooms
      const meshRoom = rooms.find((r) => r.name === MESH_ROOM)
      const out: Array<MeshLinkStatus> = []
      for (const t of tracks.values()) {
        let state: MeshLinkStatus["state"]
        if (t.role === "dials") {
          state = t.room !== undefined && t.up && (yield* t.room.status.get)._tag === "Connected" ? "Up" : "Connecting"
        } else {
          const m = meshRoom?.members.find((x) => x.peerId === t.to)
          state = t.up && m?.connected === true ? "Up" : "Connecting"
        }
        out.push({ from: self, to: t.to, state, role: t.role, drops: t.drops, lastError: t.lastError })
      }
      return out
    })
    return { voters, seams: new Map([[self, mesh.seam]]), links }
  })

/** `WebSocketVoterMesh.make`: see `make`. */
export const WebSocketVoterMesh = { make }
