/**
 * The adversarial-client fault: for a moment, three misbehaving clients next to the cluster.
 * 1. A raw socket that sends bytes that are not the fabric's protocol (the host must drop it).
 * 2. A stranger with a valid token of its own ("intruder-N"), admitted to the room but no Raft
 *    member, sending each voter random bytes and a well-formed RequestVote with a huge term (the
 *    voters must ignore a non-member: no term bump, no election).
 * 3. A client claiming voter n1's id with the stranger's token: the host must refuse it.
 * Returns what happened; `claimedIdAdmitted` true is a failure of the run.
 */
import { Duration, Effect } from "effect"
import { WebSocket } from "ws"
import { encodeRaftMessage, PeerId, PeerToken, WebSocketConstructorNode, WebSocketLoom } from "../../src/node.js"

export interface GarbageOutcome {
  readonly rawBytesSent: number
  readonly framesToVoters: number
  readonly claimedIdAdmitted: boolean
}

const rawGarbage = (url: string, rand: () => number) =>
  Effect.async<number>((resume) => {
    const ws = new WebSocket(url)
    const bytes = Buffer.from(Array.from({ length: 64 + Math.floor(rand() * 512) }, () => Math.floor(rand() * 256)))
    const done = () => resume(Effect.succeed(bytes.length))
    ws.on("open", () => {
      ws.send(bytes)
      setTimeout(() => ws.terminate(), 200)
    })
    ws.on("close", done)
    ws.on("error", done)
  })

export const adversarialClients = (
  url: string,
  secret: string,
  voters: ReadonlyArray<string>,
  n: number,
  rand: () => number
): Effect.Effect<GarbageOutcome> =>
  Effect.gen(function*() {
    const rawBytesSent = yield* rawGarbage(url, rand)
    const key = yield* Effect.orDie(PeerToken.secret(secret))
    const intruder = `intruder-${n}`
    const token = yield* Effect.orDie(PeerToken.mint(key, { room: "kv", peerId: intruder, ttl: "1 hour" }))
    const framesToVoters = yield* Effect.scoped(Effect.gen(function*() {
      const joined = yield* WebSocketLoom.join({ url, room: "kv", peerId: intruder, displayName: intruder, credentials: token, connectTimeout: Duration.seconds(5) })
      let sent = 0
      for (const v of voters) {
        const junk = new Uint8Array(1 + Math.floor(rand() * 256)).map(() => Math.floor(rand() * 256))
        const vote = encodeRaftMessage({ _tag: "RequestVote", term: 1_000_000 + n, lastLogIndex: 1_000_000, lastLogTerm: 1_000_000, leadershipTransfer: true })
        for (const frame of [junk, vote]) {
          const r = yield* Effect.either(joined.seam.sendTo(PeerId(v), frame))
          if (r._tag === "Right") sent++
        }
      }
      yield* Effect.sleep(Duration.millis(100))
      return sent
    })).pipe(Effect.provide(WebSocketConstructorNode), Effect.catchAll(() => Effect.succeed(0)))
    const claimed = yield* Effect.scoped(
      WebSocketLoom.join({ url, room: "kv", peerId: voters[0]!, displayName: "impostor", credentials: token, connectTimeout: Duration.seconds(5), reconnect: { maxRejoins: 0 } }).pipe(
        Effect.as(true),
        Effect.catchAll(() => Effect.succeed(false)),
        Effect.provide(WebSocketConstructorNode)
      )
    )
    return { rawBytesSent, framesToVoters, claimedIdAdmitted: claimed }
  })
