/**
 * `ClusterClient`: a learner of the server cluster that proposes and observes the committed log.
 *
 * `clusterClient({ endpoints, … })` (the production path) joins one server of the list, in the
 * server's client room, as its own id. The server tells it who it is and which voters to trust
 * (`Attached`), asks the leader to admit it as a learner, and relays its Raft frames both ways.
 * When the link tears (the server died, a network fault, a half-open link noticed by the
 * heartbeat), the client moves on to the next endpoint, round-robin, with a fresh join, and its
 * node — kept across the move, with its log — catches up from the leader (by snapshot when the
 * log was compacted). A proposal in flight is re-sent with the same request id, so a durable
 * client identity plus that id commit the command once across any failover.
 *
 * `clusterClientWithNode(node)` wraps a node the caller runs on its own transport.
 */
import type { Socket } from "@effect/platform"
import { Clock, Context, Deferred, Duration, Effect, Exit, ExecutionStrategy, Layer, Random, Scope, Stream } from "effect"
import type { ClientIdentity } from "../../services/raft/ClientId.js"
import type { ClusterClientCounters, ClusterClientShape, ClusterClientStatus, ClusterProposeOptions } from "../../services/cluster/ClusterClient.js"
import { AdmissionRefused, ClientClosed, ClusterUnreachable } from "../../services/cluster/ClusterErrors.js"
import type { InvalidEndpoints } from "../../services/cluster/ClusterErrors.js"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftConfig } from "../../services/raft/RaftConfig.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import { RaftConfigError } from "../../services/raft/RaftErrors.js"
import { make as makeStorage } from "../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { WebSocketLoom } from "../../layers/seam/websocket/client/WebSocketLoom.js"
import type { CredentialSource } from "../../layers/seam/websocket/PeerToken.js"
import { freshPeerId } from "../../services/seam/PeerId.js"
import { Cell } from "../internal/Cell.js"
import { make as makeNode } from "../raft/RaftNode.js"
import type { ClusterEndpointsShape } from "./ClusterEndpoints.js"
import { firstIndex, next } from "./ClusterEndpoints.js"
import { CLIENT_ROOM } from "./ClusterWire.js"
import * as LearnerTransport from "./LearnerTransport.js"
import { proposeWithRetry } from "./proposeWithRetry.js"

/** How a client attaches and retries. */
export interface ClusterClientOptions {
  readonly endpoints: ClusterEndpointsShape
  /** The client's node id (its learner id and relay peer id). Default: a fresh UUID. Never a voter's id. */
  readonly id?: string
  /**
   * The dedup identity of its proposals: `ClientIdentity.Durable({ clientId })` for exactly-once
   * across restarts of the client (with request ids it persists), `Auto` (default) for one run.
   */
  readonly identity?: ClientIdentity
  /** For servers with a `clientSecret`: a token for this id in the client room, or a source of them. */
  readonly credentials?: string | CredentialSource
  /** Raft tuning of the client's node (timings must match the servers'). */
  readonly raft?: Partial<RaftConfig>
  /**
   * Time to connect to one endpoint and be welcomed. Default 2 s. After a full round of endpoints
   * failed it doubles (up to 16×), so a crowd of clients joining a busy cluster at once backs off
   * instead of abandoning and re-opening handshakes the servers are still working through; the
   * first success resets it.
   */
  readonly connectTimeout?: Duration.DurationInput
  /** Bound of the first admission (construction fails past it with `ClusterUnreachable`). Default 30 s. */
  readonly admissionTimeout?: Duration.DurationInput
  /**
   * Bound of one attempt of a proposal; past it the same request id is re-sent, with twice the
   * bound (up to 4×); after two timeouts in a row, through the next endpoint. Default 2 s.
   */
  readonly attemptTimeout?: Duration.DurationInput
  /** Longest pause after a full round of endpoints failed (full jitter, doubling from 50 ms). Default 1 s. */
  readonly maxBackoff?: Duration.DurationInput
}

type Status = ClusterClientStatus

/**
 * Attaches to the cluster and waits until admitted as a learner. Lives in the caller's scope
 * (closing it leaves: the server frees the slot at once; the learner is removed after the
 * cluster's grace). Fails with `AdmissionRefused` (the learner bound is reached),
 * `ClusterUnreachable` (no endpoint admitted it in `admissionTimeout`) or `RaftConfigError`
 * (an invalid id or tuning).
 */
export const clusterClient = (
  options: ClusterClientOptions
): Effect.Effect<ClusterClientShape, AdmissionRefused | ClusterUnreachable | InvalidEndpoints | RaftConfigError, Scope.Scope | Socket.WebSocketConstructor> =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const constructor = yield* Effect.context<Socket.WebSocketConstructor>()
    const id = (options.id ?? (yield* freshPeerId)) as string as NodeId
    const endpoints = options.endpoints
    const status = new Cell<Status>({ link: "Connecting", endpoint: undefined, server: undefined, admission: "Pending", failovers: 0, lastError: undefined })
    const update = (patch: Partial<Status>) => status.set({ ...status.value, ...patch })
    const firstAnswer = yield* Deferred.make<void, AdmissionRefused>()
    let rotate: (() => void) | undefined
    let refusedLimit = 0

    const learner = yield* LearnerTransport.make(id, (_server, m) => {
      if (m._tag !== "Admission") return
      if (m.admitted) {
        update({ admission: "Admitted" })
        Deferred.unsafeDone(firstAnswer, Exit.void)
      } else {
        refusedLimit = m.limit
        update({ admission: "Refused" })
        Deferred.unsafeDone(firstAnswer, Exit.fail(new AdmissionRefused({ reason: "LearnerLimit", limit: m.limit })))
      }
    }).pipe(Scope.extend(scope))

    const connectTimeout = Duration.decode(options.connectTimeout ?? Duration.seconds(2))
    const cap = Duration.toMillis(Duration.decode(options.maxBackoff ?? Duration.seconds(1)))
    /** Until the client closes: attach, wait for the tear, move on. */
    const supervise = Effect.gen(function*() {
      let i = yield* firstIndex(endpoints)
      let failedInRow = 0
      let attachedOnce = false
      while (true) {
        const endpoint = endpoints.endpoints[i]!
        update({ link: "Connecting", endpoint: endpoint.url, server: undefined })
        const linkScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const joined = yield* WebSocketLoom.join({
          url: endpoint.url,
          room: CLIENT_ROOM,
          peerId: id,
          displayName: id,
          ...(endpoint.server === undefined ? {} : { serverPeerId: endpoint.server }),
          ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
          connectTimeout: Duration.times(connectTimeout, 2 ** Math.min(4, Math.floor(failedInRow / endpoints.endpoints.length))),
          // A dropped link is not resumed here: the client rotates to the next server at once.
          reconnect: { maxRejoins: 0 }
        }).pipe(Scope.extend(linkScope), Effect.provide(constructor), Effect.either)
        if (joined._tag === "Left") {
          yield* Scope.close(linkScope, Exit.void)
          update({ lastError: joined.left.message })
          i = next(endpoints, i)
          if (++failedInRow % endpoints.endpoints.length === 0) {
            const round = failedInRow / endpoints.endpoints.length
            yield* Effect.flatMap(Random.next, (r) => Effect.sleep(Duration.millis(r * Math.min(cap, 50 * 2 ** Math.min(round, 16)))))
          }
          continue
        }
        failedInRow = 0
        const room = joined.right
        if (attachedOnce) update({ failovers: status.value.failovers + 1 })
        attachedOnce = true
        yield* learner.attach(room.seam, room.serverPeerId)
        update({ link: "Attached", server: room.serverPeerId })
        const rotated = yield* Deferred.make<void>()
        rotate = () => Deferred.unsafeDone(rotated, Exit.void)
        // The seam reports a drop first (`Weaving`), the link status right after.
        yield* Stream.runDrain(Stream.takeUntil(room.status.changes, (s) => s._tag !== "Connected")).pipe(
          Effect.raceFirst(Stream.runDrain(Stream.takeUntil(room.seam.state.changes, (s) => s._tag !== "Woven"))),
          Effect.raceFirst(Deferred.await(rotated))
        )
        rotate = undefined
        yield* learner.detach
        update({ link: "Connecting", server: undefined, lastError: `link to ${room.serverPeerId} ended` })
        // Closed beside the next join: saying Bye to (or giving up on) a dead server must not delay it.
        yield* Effect.forkIn(Scope.close(linkScope, Exit.void), scope)
        i = next(endpoints, i)
      }
    })
    yield* Effect.forkIn(supervise, scope)

    const admissionTimeout = Duration.decode(options.admissionTimeout ?? Duration.seconds(30))
    const unreachable = () => new ClusterUnreachable({ reason: `not admitted within ${Duration.format(admissionTimeout)}`, lastError: status.value.lastError })
    const onFail = <A, E>(e: Effect.Effect<A, E>) => Effect.onError(e, () => Scope.close(scope, Exit.void))
    // The node needs the voters to trust, which the first server names.
    yield* onFail(Stream.runDrain(Stream.takeUntil(learner.voters.changes, (v) => v.size > 0)).pipe(
      Effect.timeoutFail({ duration: admissionTimeout, onTimeout: unreachable })
    ))
    const voters = [...learner.voters.value]
    if (voters.includes(id)) {
      yield* Scope.close(scope, Exit.void)
      return yield* new RaftConfigError({ reason: `the client id "${id}" is a voter's` })
    }
    const node = yield* onFail(Effect.gen(function*() {
      const storage = yield* makeStorage()
      return yield* makeNode({
        // A joiner: it trusts leader frames only from the voters its server named, until the
        // membership it replicates names them itself.
        cluster: ClusterConfig.of([], [id]),
        joinVia: voters,
        transport: learner.transport,
        storage,
        ...(options.identity === undefined ? {} : { identity: options.identity }),
        ...(options.raft === undefined ? {} : { config: options.raft })
      })
    }).pipe(Scope.extend(scope), Effect.catchTags({
      StorageError: (e) => Effect.die(e),
      CorruptDurableState: (e) => Effect.die(e)
    })))
    yield* onFail(Deferred.await(firstAnswer).pipe(Effect.timeoutFail({ duration: admissionTimeout, onTimeout: unreachable })))
    const start = options.identity?._tag === "Durable" ? (yield* Clock.currentTimeMillis) * 1000 : 0
    const client = wrap(node, {
      status,
      counters: learner.counters,
      ready: Stream.runDrain(Stream.takeUntil(
        Stream.mapEffect(status.changes, (s): Effect.Effect<boolean, AdmissionRefused | ClientClosed> =>
          s.admission === "Refused"
            ? Effect.fail(new AdmissionRefused({ reason: "LearnerLimit", limit: refusedLimit }))
            : s.link === "Closed"
            ? Effect.fail(new ClientClosed({ reason: "closed" }))
            : Effect.succeed(s.link === "Attached" && s.admission === "Admitted")),
        (ok) => ok
      )),
      onAttemptTimeout: () => rotate?.(),
      firstRequestId: start,
      attemptTimeout: Duration.decode(options.attemptTimeout ?? Duration.seconds(2)),
      close: Effect.suspend(() => {
        update({ link: "Closed", server: undefined })
        return Scope.close(scope, Exit.void)
      })
    })
    yield* Scope.addFinalizer(scope, Effect.sync(() => update({ link: "Closed", server: undefined })))
    return client
  })

interface WrapOptions {
  readonly status: Cell<Status>
  readonly counters: ClusterClientCounters
  /** Waits until a proposal may be sent, or fails with why it never can. */
  readonly ready: Effect.Effect<void, AdmissionRefused | ClientClosed>
  readonly onAttemptTimeout: () => void
  readonly firstRequestId: number
  readonly attemptTimeout: Duration.Duration
  readonly close: Effect.Effect<void>
}

const wrap = (node: RaftNodeShape, o: WrapOptions): ClusterClientShape => {
  let lastRequestId = o.firstRequestId
  let closed = false
  const lock = Effect.unsafeMakeSemaphore(1)
  return {
    id: node.id,
    clientId: node.clientId,
    committed: node.committedFrom(1),
    role: node.role,
    status: o.status,
    counters: o.counters,
    propose: (command, options: ClusterProposeOptions = {}) =>
      lock.withPermits(1)(Effect.suspend(() => {
        if (closed) return Effect.fail(new ClientClosed({ reason: "closed" }))
        const requestId = options.requestId ?? lastRequestId + 1
        lastRequestId = Math.max(lastRequestId, requestId)
        return proposeWithRetry(node, command, {
          requestId,
          timeout: Duration.decode(options.timeout ?? Duration.seconds(30)),
          attemptTimeout: o.attemptTimeout,
          ready: Effect.suspend(() => (closed ? Effect.fail(new ClientClosed({ reason: "closed" })) : o.ready)),
          onAttemptTimeout: o.onAttemptTimeout
        })
      })),
    close: Effect.suspend(() => {
      closed = true
      return o.close
    })
  }
}

/**
 * Wraps a node the caller runs (its own transport and storage, e.g. a learner on a
 * `ManagedRaftTransport`) as a `ClusterClient`: proposals are retried with the same request id
 * after `LeadershipLost` or an attempt timeout. `close` stops the facade, not the node.
 */
export const clusterClientWithNode = (
  node: RaftNodeShape,
  options: { readonly attemptTimeout?: Duration.DurationInput; readonly firstRequestId?: number } = {}
): ClusterClientShape => {
  const status = new Cell<Status>({ link: "Attached", endpoint: undefined, server: undefined, admission: "Admitted", failovers: 0, lastError: undefined })
  return wrap(node, {
    status,
    counters: { droppedForeign: 0, droppedNotVoter: 0, droppedMalformed: 0, droppedUnattached: 0 },
    ready: Effect.void,
    onAttemptTimeout: () => {},
    firstRequestId: options.firstRequestId ?? 0,
    attemptTimeout: Duration.decode(options.attemptTimeout ?? Duration.seconds(2)),
    close: Effect.sync(() => status.set({ ...status.value, link: "Closed" }))
  })
}

/**
 * The cluster client as a service (its interface is `ClusterClientShape`), with its constructors:
 * `ClusterClient.make(options)` (= `clusterClient`), `ClusterClient.withNode(node)`,
 * `ClusterClient.layer(options)`.
 */
export class ClusterClient extends Context.Tag("kuilt/ClusterClient")<ClusterClient, ClusterClientShape>() {
  static readonly make = clusterClient
  static readonly withNode = clusterClientWithNode
  static readonly layer = (
    options: ClusterClientOptions
  ): Layer.Layer<ClusterClient, AdmissionRefused | ClusterUnreachable | InvalidEndpoints | RaftConfigError, Socket.WebSocketConstructor> =>
    Layer.scoped(ClusterClient, clusterClient(options))
}
