/**
 * A browser page runs one Raft node over kuilt's WebSocket client: it joins with a fixed peer id,
 * proposes `count` commands and reports once every command of the whole cluster is applied.
 */
import { Duration, Effect, Ref, Schedule, Stream } from "effect"
import { WebSocketConstructorLive } from "../../../../../layers/seam/websocket/browser/WebSocketConstructor.js"
import * as InMemoryRaftStorage from "../../../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../../../../layers/raft/transport/SeamRaftTransport.js"
import { ClusterConfig } from "../../../../../services/raft/ClusterConfig.js"
import { RaftNode } from "../../../../../src/raft/index.js"
import { WebSocketLoom } from "../../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { params, runPage } from "./report.js"

const { url, room, id, ids, count, total } = params<{
  url: string
  room: string
  id: string
  ids: Array<string>
  count: number
  total: number
}>()

runPage(
  Effect.gen(function*() {
    const joined = yield* WebSocketLoom.join({ url, room, peerId: id, displayName: id })
    const storage = yield* InMemoryRaftStorage.make()
    const node = yield* RaftNode.make({
      cluster: ClusterConfig.ofVoters(...ids),
      transport: SeamRaftTransport.fromSeam(joined.seam),
      storage
    })
    const applied = yield* Ref.make<ReadonlyArray<string>>([])
    const text = new TextDecoder()
    yield* Effect.forkScoped(
      Stream.runForEach(node.committedFrom(1), (c) =>
        c._tag === "Entry" ? Ref.update(applied, (xs) => [...xs, text.decode(c.entry.command)]) : Effect.void)
    )
    for (let k = 0; k < count; k++) {
      yield* node.propose(new TextEncoder().encode(`${id}-${k}`)).pipe(
        Effect.retry(Schedule.intersect(Schedule.recurs(100), Schedule.spaced(Duration.millis(50))))
      )
    }
    yield* Effect.repeat(Ref.get(applied), {
      until: (xs) => xs.length >= total,
      schedule: Schedule.spaced(Duration.millis(20))
    })
    return { id, applied: yield* Ref.get(applied) }
  }).pipe(Effect.scoped, Effect.provide(WebSocketConstructorLive), Effect.timeout(Duration.seconds(30)))
)
