/**
 * A browser page runs one Raft node over kuilt's WebSocket client: it joins with a fixed peer id,
 * proposes `count` commands (each under its own request id, retried with the same id when the
 * outcome is unknown) and reports once every command of the whole cluster is applied. Its state
 * is published as progress all along, for the test's failure messages.
 */
import { Duration, Effect, Schedule } from "effect"
import { WebSocketConstructorLive } from "../../../../../layers/seam/websocket/browser/WebSocketConstructor.js"
import * as InMemoryRaftStorage from "../../../../../layers/raft/storage/inmemory/InMemoryRaftStorage.js"
import { SeamRaftTransport } from "../../../../../layers/raft/transport/SeamRaftTransport.js"
import { ClusterConfig } from "../../../../../services/raft/ClusterConfig.js"
import { RaftNode } from "../../../../../src/raft/index.js"
import { WebSocketLoom } from "../../../../../layers/seam/websocket/client/WebSocketLoom.js"
import { recordRaftLog } from "./raftLog.js"
import { params, progress, runPage } from "./report.js"

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
    progress({ phase: "joining the room" })
    const joined = yield* WebSocketLoom.join({ url, room, peerId: id, displayName: id })
    progress({ phase: "joined, starting the node" })
    const storage = yield* InMemoryRaftStorage.make()
    const node = yield* RaftNode.make({
      cluster: ClusterConfig.ofVoters(...ids),
      transport: SeamRaftTransport.fromSeam(joined.seam),
      storage
    })
    const log = yield* recordRaftLog(node, joined.seam)
    let proposed = 0
    let retries = 0
    const publish = Effect.map(log.view, (view) => progress({ phase: "running", proposed, retries, view }))
    yield* Effect.forkScoped(Effect.repeat(publish, Schedule.spaced(Duration.millis(100))))
    for (let k = 0; k < count; k++) {
      // `propose` waits while no leader is known; `LeadershipLost` means "outcome unknown", so
      // the retry reuses the request id (exactly-once through the ClientSessionTable).
      yield* node.propose(new TextEncoder().encode(`${id}-${k}`), { requestId: k + 1 }).pipe(
        Effect.tapError(() => Effect.sync(() => retries++)),
        Effect.retry({ while: (e) => e._tag === "LeadershipLost", schedule: Schedule.spaced(Duration.millis(50)) })
      )
      proposed++
    }
    yield* Effect.repeat(publish, { until: () => log.applied.length >= total, schedule: Schedule.spaced(Duration.millis(20)) })
    return { id, items: log.items, applied: log.applied, retries, view: yield* log.view }
  }).pipe(Effect.provide(WebSocketConstructorLive))
)
