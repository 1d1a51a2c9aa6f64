/**
 * The Seam conformance suite (docs/ARCHITECTURE.md, "Seams"): behaviour every Seam must show,
 * whatever fabric weaves it (the in-memory loom, channel views of a mux, WebSockets, yours).
 *
 * A fabric plugs in through a `FabricFactory`: it weaves `n` seams of one session, bound to the
 * test's scope. `timing` says how to wait: `"virtual"` fabrics run under `TestClock` (the suite
 * yields, then advances the clock); `"live"` fabrics run on real time (the suite polls with short
 * real sleeps). Every wait is bounded, so a broken fabric fails with a message instead of hanging.
 *
 * The fabric must use the default delivery policy (`Reliable`) or one with room for 10 frames
 * queued before collection; budgets are asked for as 1000 bytes.
 *
 * ```ts
 * import * as vitest from "@effect/vitest"
 * import { seamConformance } from "kuilt/testing"
 *
 * seamConformance(vitest, "MyLoom", { timing: "live", make: (n, options) => weaveMySeams(n, options) })
 * ```
 */
import type { FabricFactory } from "./SeamFabric.js"
import { registerPeerAndOrderTests } from "./SeamConformancePeers.js"
import { registerSendTests } from "./SeamConformanceSends.js"
import { makeSeamSuite } from "./SeamSuite.js"
import type { ConformanceTestApi } from "./TestApi.js"

export type { Fabric, FabricFactory, FabricOptions } from "./SeamFabric.js"

/**
 * Registers the Seam conformance suite for one fabric under `describe("Seam conformance: <name>")`,
 * using `api` (the `@effect/vitest` module) to declare the tests. Each case weaves its own seams
 * with `factory.make` in a fresh scope.
 */
export const seamConformance = (api: ConformanceTestApi, name: string, factory: FabricFactory): void => {
  const suite = makeSeamSuite(api, factory)
  api.describe(`Seam conformance: ${name}`, () => {
    registerPeerAndOrderTests(suite)
    registerSendTests(suite)
  })
}
