/**
 * `npm run example:websocket-secure`: three Raft voters talk through a WebSocket host that binds
 * peer ids to credentials (a shared secret), in one process over loopback.
 *
 * The voters are written as the README's pattern — join with peer tokens, run a `RaftNode` over
 * `SeamRaftTransport.fromSeam(room.seam)` — and nothing else. A stranger without n2's token is
 * refused; then the host is shut down and restarted on the same port, with no memory of its rooms,
 * and the cluster commits again by itself. Pass `--key key.pem --cert cert.pem` to serve `wss://`
 * (the voters then trust that certificate).
 */
import { Socket } from "@effect/platform"
import { Chunk, Duration, Effect, Exit, Layer, Option, Schedule, Scope, Stream } from "effect"
import { WebSocket } from "ws"
import { readFileSync } from "node:fs"
import {
  ClusterConfig,
  HostIdentity,
  InMemoryRaftStorage,
  PeerToken,
  RaftNode,
  type RaftNodeShape,
  SeamRaftTransport,
  WebSocketConstructorNode,
  WebSocketHost,
  WebSocketLoom
} from "../src/node.js"

const SECRET = process.env["KUILT_SECRET"] ?? "example secret: use 32 random bytes in production"
const args = process.argv.slice(2)
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined)
const keyFile = arg("--key")
const certFile = arg("--cert")
const tls = keyFile !== undefined && certFile !== undefined
  ? { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") }
  : undefined
const ids = ["n1", "n2", "n3"]
const text = new TextDecoder()

/** A host in a scope of its own, so the example can shut it down and start another. */
const startHost = (port: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const host = yield* WebSocketHost.make({
      port,
      identity: HostIdentity.sharedSecret({ secret: SECRET }),
      ...(tls === undefined ? {} : { tls })
    }).pipe(Scope.extend(scope))
    return { host, stop: Scope.close(scope, Exit.void) }
  })

const program = Effect.gen(function*() {
  const first = yield* startHost(0)
  const url = first.host.url
  console.log(`host listening at ${url}`)

  // The README pattern, once per voter: credentials from the secret, a room, a Raft node.
  const credentials = yield* PeerToken.credentials(SECRET)
  const nodes: Array<RaftNodeShape> = []
  for (const id of ids) {
    const room = yield* WebSocketLoom.join({ url, room: "orders", peerId: id, displayName: id, credentials })
    const node = yield* RaftNode.make({
      cluster: ClusterConfig.ofVoters(...ids),
      transport: SeamRaftTransport.fromSeam(room.seam),
      storage: yield* InMemoryRaftStorage.make()
    })
    nodes.push(node)
  }
  // Proposed through n1 (a follower forwards to the leader). Frames in flight while a link is
  // down are lost, so each attempt is bounded and a retry reuses the request id: a proposal whose
  // outcome was unknown applies once.
  const propose = (command: string, requestId: number) =>
    nodes[0]!.propose(new TextEncoder().encode(command), { requestId }).pipe(
      Effect.timeout(Duration.seconds(2)),
      Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)), times: 10 })
    )
  console.log(`committed "hello" at index ${(yield* propose("hello", 1)).index}`)

  // A stranger claiming n2 without n2's token.
  const stranger = yield* Effect.flip(Effect.scoped(WebSocketLoom.join({ url, room: "orders", peerId: "n2", displayName: "mallory", credentials: "forged" })))
  console.log(`a stranger claiming n2 was refused: ${stranger._tag === "JoinRefused" ? stranger.message : stranger._tag}`)

  // The host goes away and comes back on the same port, knowing nothing of the room.
  yield* first.stop
  const second = yield* startHost(first.host.port)
  console.log(`host restarted on port ${second.host.port}`)
  const after = yield* propose("after the restart", 2)
  console.log(`committed "after the restart" at index ${after.index}`)
  for (const node of nodes) {
    const log = yield* node.committedFrom(1).pipe(
      Stream.takeUntil((c) => c._tag === "Entry" && c.entry.index >= after.index),
      Stream.filterMap((c) => (c._tag === "Entry" ? Option.some(text.decode(c.entry.command)) : Option.none())),
      Stream.runCollect
    )
    console.log(`${node.id} applied: ${JSON.stringify(Chunk.toReadonlyArray(log))}`)
  }
  yield* second.stop
})

// A self-signed certificate is trusted explicitly (with `ws`, which the Node constructor uses);
// a certificate of a public CA needs nothing: `WebSocketConstructorNode`.
const constructor = tls === undefined
  ? WebSocketConstructorNode
  : Layer.succeed(Socket.WebSocketConstructor, (url, protocols) => new WebSocket(url, protocols, { ca: tls.cert }) as unknown as globalThis.WebSocket)
Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(constructor))).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
