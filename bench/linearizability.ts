/**
 * Linearizability checker benchmark: generates a 20 000-operation linearizable KV history
 * (8 clients, 16 keys, 1% timeouts; seeded, so every run checks the same history) and prints one
 * JSON line with the time the check took. Run: `npx tsx bench/linearizability.ts`.
 */
import { performance } from "node:perf_hooks"
import { checkLinearizability, kvModel, simulateKvHistory } from "../src/testing/linearizability/index.js"

const OPS = 20_000
const history = simulateKvHistory({ seed: 1, operations: OPS, clients: 8, keys: 16, timeoutRate: 0.01 })
const start = performance.now()
const result = checkLinearizability(kvModel, history.operations)
const ms = performance.now() - start
if (result.result !== "ok") {
  console.error(`unexpected verdict ${result.result}`)
  process.exitCode = 1
}
console.log(JSON.stringify({ bench: "linearizability.check20k", ops: OPS, ms: Math.round(ms * 10) / 10, steps: result.steps, result: result.result }))
