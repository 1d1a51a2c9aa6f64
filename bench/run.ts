/**
 * `npm run bench`: runs every benchmark on the real clock and prints one JSON line per figure.
 * Ratios are computed against baselines measured in the same run (the machines are noisy): a
 * line with a baseline carries `vs` (the baseline's bench name), `baseline` and `ratio`
 * (figure / baseline); the last line gathers every ratio and the peak RSS.
 */
import { Effect } from "effect"
import {
  runFrameBench,
  runNullBench,
  runNullSeamApiBench,
  runRaftBench,
  runReadBench,
  runSnapshotBench
} from "./raft.js"
import { runMuxBench } from "./mux.js"
import { runBench } from "./stats.js"

const main = Effect.gen(function*() {
  yield* runNullBench
  yield* runNullSeamApiBench
  yield* runRaftBench
  yield* runReadBench
  yield* runFrameBench
  yield* runSnapshotBench
  yield* runMuxBench
})

runBench(main)
