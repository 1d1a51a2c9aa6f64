/**
 * The Seam conformance suite over real loopback WebSockets: one Node host, Node clients.
 */
import { Effect, Option } from "effect"
import type { Scope } from "effect"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { RELAY_OVERHEAD_BYTES } from "../../../../layers/seam/websocket/Protocol.js"
import type { Fabric, FabricOptions } from "../../../conformance/SeamConformance.js"
import { seamConformance } from "../../../conformance/SeamConformance.js"
import { joinNode, startHost } from "./fixture.js"

const MAX_FRAME = 1024 * 1024

/** One host per test, `n` clients in one room. */
const webSocketFabric = (n: number, options: FabricOptions): Effect.Effect<Fabric, never, Scope.Scope> =>
  Effect.gen(function*() {
    const host = yield* startHost({ maxFrameBytes: MAX_FRAME })
    const seams: Array<SeamShape> = []
    for (let i = 0; i < n; i++) {
      const room = yield* joinNode(host.url, {
        room: "conformance",
        displayName: `client-${i}`,
        ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes })
      })
      seams.push(room.seam)
    }
    return { seams }
  }).pipe(Effect.orDie)

seamConformance("WebSocket (Node host, Node clients)", {
  timing: "live",
  make: webSocketFabric,
  defaultBudget: Option.some(MAX_FRAME - RELAY_OVERHEAD_BYTES)
})
