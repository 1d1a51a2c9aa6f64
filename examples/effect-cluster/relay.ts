/**
 * The WebSocket relay the runners' Raft group talks through (`npx tsx examples/effect-cluster/relay.ts
 * [port]`). Prints `relay <url>` once it listens. kuilt's only cross-process fabric today is this
 * relay, so it must stay up while runners come and go; direct links between voters (no relay)
 * are planned (`VoterMesh`).
 */
import { Effect } from "effect"
import { WebSocketHost } from "kuilt/node"

const port = Number(process.argv[2] ?? 0)

Effect.gen(function*() {
  const host = yield* WebSocketHost.make({ port })
  console.log(`relay ${host.url}`)
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.runPromise)
