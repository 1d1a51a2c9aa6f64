/**
 * A WebSocket host in its own process, for the process-level tests and the flood benchmark.
 *
 * Argument (JSON): `{ port, secret?, reconnectWindowMs?, options? }`. Prints `listening <port>`
 * once it serves. Commands on stdin: `stats` → `stats <json>` (event-loop delay percentiles in ms,
 * measured with `perf_hooks.monitorEventLoopDelay`, CPU time used, and the host's counters);
 * `reset` → `reset ok` (restarts the delay histogram and the CPU count). Exits when stdin closes.
 */
import { Duration, Effect } from "effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { createInterface } from "node:readline"
import * as WebSocketHost from "../../../../../layers/seam/websocket/node/WebSocketHost.js"
import { HostIdentity } from "../../../../../layers/seam/websocket/node/WebSocketHost.js"

const config = JSON.parse(process.argv[2]!) as {
  readonly port: number
  readonly secret?: string
  readonly reconnectWindowMs?: number
  readonly options?: WebSocketHost.WebSocketHostOptions
}
const print = (line: string) => process.stdout.write(line + "\n")
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()

let cpuAtReset = process.cpuUsage()
const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100

const main = Effect.gen(function*() {
  const host = yield* WebSocketHost.make({
    port: config.port,
    identity: config.secret === undefined ? HostIdentity.open() : HostIdentity.sharedSecret({ secret: config.secret }),
    ...(config.reconnectWindowMs === undefined ? {} : { reconnectWindow: Duration.millis(config.reconnectWindowMs) }),
    ...config.options
  })
  print(`listening ${host.port}`)
  const input = createInterface({ input: process.stdin })
  input.on("line", (line) => {
    switch (line.trim()) {
      case "stats":
        print(`stats ${JSON.stringify({
          eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), mean: ms(delay.mean) },
          cpuMs: Math.round((process.cpuUsage(cpuAtReset).user + process.cpuUsage(cpuAtReset).system) / 1000),
          counters: host.counters
        })}`)
        return
      case "reset":
        delay.reset()
        cpuAtReset = process.cpuUsage()
        print("reset ok")
        return
    }
  })
  input.on("close", () => process.exit(0))
  return yield* Effect.never
})

Effect.runPromise(Effect.scoped(main)).catch((e) => {
  process.stderr.write(`host failed: ${String(e)}\n`)
  process.exit(1)
})
