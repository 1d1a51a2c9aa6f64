/**
 * The Seam conformance suite on the in-memory reference fabric (virtual time).
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { InMemoryLoom } from "../../layers/seam/inmemory/InMemoryLoom.js"
import type { SeamShape } from "../../services/seam/Seam.js"
import type { Fabric, FabricOptions } from "./SeamConformance.js"
import { seamConformance } from "./SeamConformance.js"

/** Hosts one seam and joins `n - 1` more on a fresh loom. */
const inMemoryFabric = (n: number, options: FabricOptions): Effect.Effect<Fabric, never, Scope.Scope> =>
  Effect.gen(function*() {
    const loom = yield* InMemoryLoom.make(
      options.maxPayloadBytes === undefined ? { seed: 1 } : { seed: 1, maxPayloadBytes: options.maxPayloadBytes }
    )
    const seams: Array<SeamShape> = [yield* loom.host({ sessionName: "conformance", maxPeers: n })]
    for (let i = 1; i < n; i++) seams.push(yield* loom.join({ sessionName: "conformance" }))
    return { seams, tear: (i: number) => Effect.asVoid(loom.faults.tear(seams[i]!.selfId)) }
  }).pipe(Effect.orDie)

seamConformance("InMemoryLoom", { timing: "virtual", make: inMemoryFabric })
