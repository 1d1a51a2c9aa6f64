/**
 * The host process: a `WebSocketHost` (kuilt/node) on loopback that the node processes join.
 * Commands: `phaseStart` / `phaseReport` (its own event-loop lag, CPU, memory, and the host's
 * relay counters over the window).
 */
import { Effect } from "effect"
import { runChild } from "./child.js"
import { startHost } from "./fabric.js"
import type { HostFigures } from "./fabric.js"
import { Probes } from "./probes.js"

export interface HostReport {
  readonly probes: ReturnType<Probes["report"]>
  /** Counter increments over the window. */
  readonly counters: HostFigures
}

runChild(() =>
  Effect.gen(function*() {
    const probes = new Probes()
    const host = yield* startHost()
    let base = host.figures()
    return {
      info: { url: host.url, serverPeerId: host.serverPeerId },
      handlers: {
        phaseStart: () =>
          Effect.sync(() => {
            probes.reset()
            base = host.figures()
          }),
        phaseReport: () =>
          Effect.sync(() => {
            const now = host.figures()
            const counters = Object.fromEntries(
              Object.entries(now).map(([k, v]) => [k, v - base[k as keyof HostFigures]])
            ) as unknown as HostFigures
            return { probes: probes.report(), counters } satisfies HostReport
          })
      }
    }
  })
)
