/**
 * A server's routing: the Raft transports of the voters it runs, its client room and its voter
 * links, joined by destination.
 *
 * - Voter → voter: a `Peer` frame on their pair link (`VoterMesh`).
 * - Client → voter: the client sends a `Raft { origin, dest }` frame to its entry server over the
 *   client room. The first hop checks it: `origin` must be the client the relay stamped as the
 *   sender (a client speaks only as itself, never as a voter or another client) and `dest` a
 *   voter; anything else is refused and counted. A voter of this server gets it at once; another
 *   voter gets it as a `Relay` on the pair link (one hop, origin kept).
 * - Voter → client: to the client's room here, or as a `Relay` to the server it is attached to
 *   (`Attachments`); unknown, to every server (each delivers only to a client it holds).
 * - A server receiving a `Relay` accepts it from a voter only as that voter (a voter's frame) or on
 *   behalf of a client (a client's frame for one of its voters), and never passes it on.
 *
 * Every queue is bounded: each voter's inbound `FrameQueue` drops its oldest frame when full (Raft
 * retransmits); the relay bounds what it buffers per connection; a frame for a link that is down is
 * dropped and counted, never held.
 */
import { Effect, Either, Fiber, Option, Runtime, Scope, Stream, Subscribable } from "effect"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftTransportShape } from "../../services/raft/RaftTransport.js"
import { RAFT_TRANSPORT_FAST_PATH } from "../../services/raft/TransportFastPath.js"
import type { RaftTransportFastPath } from "../../services/raft/TransportFastPath.js"
import type { PeerId } from "../../services/seam/PeerId.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import type { SendError } from "../../services/seam/SeamErrors.js"
import { SEAM_FAST_PATH } from "../seam/Inbox.js"
import type { SeamFastPath } from "../seam/Inbox.js"
import type { Delivery } from "../seam/pump.js"
import { SeamTap } from "../../layers/seam/mesh/SeamTap.js"
import { Attachments } from "./Attachments.js"
import type { ClientMessage, MeshMessage } from "./ClusterWire.js"
import { ClientCodec, ClusterType, decodeClient, decodeMesh, encodeEnvelope, encodePeer, ENVELOPE_OVERHEAD_BYTES, IdBytes, MeshCodec } from "./ClusterWire.js"
import { FrameQueue } from "./FrameQueue.js"
import { WIRE_VERSION } from "../codec/Frame.js"

/** Frames a server's router refused or dropped, by cause (updated in place). */
export interface RouterCounters {
  /** Client frames whose `origin` was not the client that sent them (spoofing another client or a voter). */
  refusedOrigin: number
  /** Client frames for a destination that is not a voter. */
  refusedDest: number
  /** Client frames carrying a Raft message only a voter sends (votes, leader frames, TimeoutNow). */
  refusedKind: number
  /** Client frames of a type only a server may send, or that do not decode. */
  refusedMalformed: number
  /** Voter-link frames that broke the one-hop rules or did not decode. */
  refusedMesh: number
  /** Client frames relayed to another server's voter. */
  relayedUp: number
  /** Voter frames relayed to the server holding the client. */
  relayedDown: number
  /** Voter frames for a client attached nowhere known, sent to every server. */
  fannedOut: number
  /** Frames for a client not attached here, or a voter whose link is down. */
  droppedUnreachable: number
  /** Sends a seam refused (over budget, torn). */
  droppedSendFailed: number
}

/** The voter-link frames that are not Raft traffic (attachments and admissions). */
export type MeshControl = Extract<MeshMessage, { readonly _tag: "Attach" | "Detach" | "Roster" | "Admit" | "Refuse" }>

export interface RouterOptions {
  readonly voters: ReadonlyArray<NodeId>
  /** The voters this server runs (each with a seam in `meshSeams`). */
  readonly owned: ReadonlyArray<NodeId>
  /** The voter whose id the client room knows this server by. */
  readonly entry: NodeId
  readonly meshSeams: ReadonlyMap<NodeId, SeamShape>
  /** Largest payload the client room carries (the relay's budget). */
  readonly clientBudget: number
  /** Frames each voter's inbound queue holds before dropping the oldest. Default 4096. */
  readonly queueCapacity?: number
  /** Called with each control frame from another server, in order. */
  readonly onControl: (from: NodeId, message: MeshControl) => void
}

export interface Router {
  readonly transports: ReadonlyMap<NodeId, RaftTransportShape>
  readonly attachments: Attachments
  readonly counters: Readonly<RouterCounters>
  /** Serves `seam` as the client room (replacing the previous one, whose pump is stopped first). */
  readonly setClientRoom: (seam: SeamShape) => Effect.Effect<void>
  /** The clients holding a slot in the client room now (without this server's own member). */
  readonly roomMembers: () => ReadonlySet<string>
  /** Sends a server frame (`Attached`, `Admission`) to a client of the room; `false` if it is not there. */
  readonly toClient: (client: string, message: ClientMessage) => boolean
  /** Sends a control frame to the server running `voter`; `false` when its link is down. */
  readonly toServer: (voter: NodeId, message: MeshControl) => boolean
  /** Whether the link to the server running `voter` is up (always true for a voter run here). */
  readonly reachable: (voter: string) => boolean
  /** Voters run by other servers. */
  readonly remote: ReadonlyArray<NodeId>
}

/**
 * The Raft messages a learner sends (type bytes of `src/codec/raft/RaftCodec.ts`): replication
 * answers (`AppendEntriesResponse`, `InstallSnapshotResponse`), its own requests (`Forward`,
 * `ReadIndexRequest`) and vouching (`VouchRequest`, `Vouch`). A client is a member of the
 * configuration, so the voters' membership gate would take its votes and leader frames; it never
 * needs to send them, so the first hop refuses them and a client cannot disturb elections.
 */
export const LEARNER_MESSAGES: ReadonlySet<number> = new Set([6, 8, 10, 12, 14, 15])

const fastOf = (seam: SeamShape): SeamFastPath | undefined =>
  (seam as Partial<Record<typeof SEAM_FAST_PATH, SeamFastPath>>)[SEAM_FAST_PATH]

/** Makes the router of one server; its pumps live in the current scope. */
export const make = (options: RouterOptions): Effect.Effect<Router, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const voterSet = new Set<string>(options.voters)
    const ownedSet = new Set<string>(options.owned)
    const remote = options.voters.filter((v) => !ownedSet.has(v))
    const counters: RouterCounters = {
      refusedOrigin: 0, refusedDest: 0, refusedKind: 0, refusedMalformed: 0, refusedMesh: 0, relayedUp: 0, relayedDown: 0,
      fannedOut: 0, droppedUnreachable: 0, droppedSendFailed: 0
    }
    const attachments = new Attachments()
    const ids = new IdBytes()
    const capacity = options.queueCapacity ?? 4096
    const queues = new Map<string, FrameQueue>(options.owned.map((v) => [v, new FrameQueue(capacity)]))
    yield* Effect.addFinalizer(() => Effect.sync(() => queues.forEach((q) => q.close())))
    let room: SeamShape | undefined
    let roomFast: SeamFastPath | undefined
    let roomPeers: ReadonlySet<string> = new Set()
    let roomStop: Effect.Effect<void> = Effect.void

    const absorb = (e: SendError): void => {
      if (e._tag === "PeerNotConnected") counters.droppedUnreachable++
      else counters.droppedSendFailed++
    }
    /** Sends through the fast path when there is one: `undefined` when done. */
    const send = (seam: SeamShape, fast: SeamFastPath | undefined, peer: string, bytes: Uint8Array): Delivery => {
      const rest = fast === undefined ? seam.sendTo(peer as PeerId, bytes) : fast.trySend(peer as PeerId, bytes)
      return rest === undefined ? undefined : Effect.catchAll(rest, (e) => Effect.sync(() => absorb(e)))
    }
    const meshFast = new Map<string, SeamFastPath | undefined>([...options.meshSeams].map(([v, s]) => [v, fastOf(s)]))
    const toMesh = (from: string, to: string, bytes: Uint8Array): Delivery => {
      const seam = options.meshSeams.get(from as NodeId)!
      return send(seam, meshFast.get(from), to, bytes)
    }
    const meshPeers = new Map<string, ReadonlySet<string>>()
    const reachable = (voter: string): boolean => ownedSet.has(voter) || (meshPeers.get(options.entry)?.has(voter) ?? false)

    /**
     * A client is held here when it is in the room and connected (admission's view), heard from
     * here last, or not known anywhere else.
     */
    const isLocal = (client: string): boolean => {
      if (room === undefined || !roomPeers.has(client)) return false
      const at = attachments.where(client, options.entry)
      return at === undefined || at === options.entry
    }

    const both = (a: Delivery, b: Delivery): Delivery => (a === undefined ? b : b === undefined ? a : Effect.zipRight(a, b))

    /** Voter `from` → client `to`. */
    const downToClient = (from: string, to: string, payload: Uint8Array): Delivery => {
      if (isLocal(to)) {
        return send(room!, roomFast, to, encodeEnvelope(ClusterType.Raft, ids.of(from), ids.of(to), payload))
      }
      const at = attachments.where(to, options.entry)
      const frame = () => encodeEnvelope(ClusterType.Relay, ids.of(from), ids.of(to), payload)
      if (at !== undefined && at !== options.entry && reachable(at)) {
        counters.relayedDown++
        return toMesh(ownedSet.has(from) ? from : options.entry, at, frame())
      }
      const targets = remote.filter(reachable)
      if (targets.length === 0) {
        counters.droppedUnreachable++
        return undefined
      }
      counters.fannedOut++
      const bytes = frame()
      let out: Delivery = undefined
      for (const t of targets) out = both(out, toMesh(ownedSet.has(from) ? from : options.entry, t, bytes))
      return out
    }

    const transportOf = (voter: NodeId): RaftTransportShape => {
      const queue = queues.get(voter)!
      const mesh = options.meshSeams.get(voter)!
      const fast = meshFast.get(voter)
      const trySend = (peer: NodeId, bytes: Uint8Array): Effect.Effect<void> | undefined =>
        voterSet.has(peer) ? send(mesh, fast, peer, encodePeer(bytes)) : downToClient(voter, peer, bytes)
      const transportFast: RaftTransportFastPath = { trySend, collect: (wake) => queue.tap(wake) }
      const transport: RaftTransportShape = {
        selfId: voter,
        peers: Subscribable.map(mesh.peers, (ps) => ps as ReadonlySet<string> as ReadonlySet<NodeId>),
        incoming: queue.stream,
        sendTo: (peer, bytes) => Effect.suspend(() => trySend(peer, bytes) ?? Effect.void),
        get maxPayloadBytes() {
          const m = mesh.maxPayloadBytes
          const budget = Option.isSome(m) ? Math.min(m.value, options.clientBudget) : options.clientBudget
          return Option.some(budget - ENVELOPE_OVERHEAD_BYTES)
        }
      }
      return Object.assign(transport, { [RAFT_TRANSPORT_FAST_PATH]: transportFast })
    }
    const transports = new Map<NodeId, RaftTransportShape>(options.owned.map((v) => [v, transportOf(v)]))

    /** One frame on voter `self`'s link from voter `sender`. */
    const onMesh = (self: string, sender: string, bytes: Uint8Array): Delivery => {
      const decoded = decodeMesh(bytes)
      if (Either.isLeft(decoded)) {
        counters.refusedMesh++
        return undefined
      }
      const m = decoded.right
      switch (m._tag) {
        case "Peer":
          queues.get(self)!.offer(sender as NodeId, m.payload)
          return undefined
        case "Relay": {
          if (voterSet.has(m.origin)) {
            // A voter's frame for a client held here; a voter speaks only as itself.
            if (m.origin !== sender || voterSet.has(m.dest)) {
              counters.refusedMesh++
              return undefined
            }
            if (!isLocal(m.dest)) {
              counters.droppedUnreachable++
              return undefined
            }
            return send(room!, roomFast, m.dest, encodeEnvelope(ClusterType.Raft, ids.of(m.origin), ids.of(m.dest), m.payload))
          }
          // A client's frame, relayed by its entry server, for one of our voters.
          const q = queues.get(m.dest)
          if (q === undefined) {
            counters.refusedMesh++
            return undefined
          }
          attachments.seen(m.origin, sender)
          q.offer(m.origin as NodeId, m.payload)
          return undefined
        }
        case "Attach":
        case "Detach":
        case "Roster":
        case "Admit":
        case "Refuse":
          options.onControl(sender as NodeId, m)
          return undefined
      }
    }

    /** One frame from client `sender` in the client room: the first-hop check, then routing. */
    const onClient = (sender: string, bytes: Uint8Array): Delivery => {
      const decoded = decodeClient(bytes)
      if (Either.isLeft(decoded) || decoded.right._tag !== "Raft") {
        counters.refusedMalformed++
        return undefined
      }
      const m = decoded.right
      if (m.origin !== sender || voterSet.has(sender)) {
        counters.refusedOrigin++
        return undefined
      }
      if (!voterSet.has(m.dest)) {
        counters.refusedDest++
        return undefined
      }
      if (m.payload.length < 2 || m.payload[0] !== WIRE_VERSION || !LEARNER_MESSAGES.has(m.payload[1]!)) {
        counters.refusedKind++
        return undefined
      }
      // Its answers come back here: it speaks through this server now.
      attachments.seen(sender, options.entry)
      const q = queues.get(m.dest)
      if (q !== undefined) {
        q.offer(sender as NodeId, m.payload)
        return undefined
      }
      if (!reachable(m.dest)) {
        counters.droppedUnreachable++
        return undefined
      }
      counters.relayedUp++
      return toMesh(options.entry, m.dest, encodeEnvelope(ClusterType.Relay, ids.of(sender), ids.of(m.dest), m.payload))
    }

    for (const [voter, seam] of options.meshSeams) {
      meshPeers.set(voter, yield* seam.peers.get)
      yield* SeamTap.tap(seam, (sender, payload) => onMesh(voter, sender, payload))
      yield* Effect.forkIn(Stream.runForEach(seam.peers.changes, (ps) => Effect.sync(() => void meshPeers.set(voter, ps))), scope)
    }

    const setClientRoom = (seam: SeamShape): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* roomStop
        room = seam
        roomFast = fastOf(seam)
        roomPeers = yield* seam.peers.get
        const drain = yield* SeamTap.tap(seam, onClient).pipe(Scope.extend(scope))
        const follow = yield* Effect.forkIn(Stream.runForEach(seam.peers.changes, (ps) => Effect.sync(() => void (roomPeers = ps))), scope)
        roomStop = Effect.zipRight(drain.stop, Fiber.interrupt(follow))
      })

    const runtime = yield* Effect.runtime<never>()
    const toClient = (client: string, message: ClientMessage): boolean => {
      if (room === undefined || !roomPeers.has(client)) return false
      const rest = send(room, roomFast, client, ClientCodec.encode(message))
      if (rest !== undefined) Runtime.runFork(runtime)(rest)
      return true
    }

    const toServer = (voter: NodeId, message: MeshControl): boolean => {
      if (ownedSet.has(voter) || !reachable(voter)) return false
      const rest = toMesh(options.entry, voter, MeshCodec.encode(message))
      if (rest !== undefined) Runtime.runFork(runtime)(rest)
      return true
    }

    return {
      transports,
      attachments,
      counters,
      setClientRoom,
      roomMembers: () => {
        const out = new Set(roomPeers)
        out.delete(options.entry)
        return out
      },
      toClient,
      toServer,
      reachable,
      remote
    }
  })
