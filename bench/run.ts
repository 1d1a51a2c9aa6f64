/**
 * `npm run bench`: runs every benchmark on the real clock and prints one JSON line per figure.
 * Ratios are computed against baselines measured in the same run (the machines are noisy).
 */
import { Effect } from "effect"
import { runNullBench, runRaftBench } from "./raft.js"

const main = Effect.gen(function*() {
  yield* runNullBench
  yield* runRaftBench
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
