/**
 * Evidence for the long turns `npm run bench:processes` finds on in-memory voters: the CPU time of
 * appending 4,096-entry batches to the two in-memory logs a voter keeps — `InMemoryRaftStorage`'s
 * column store (`Columns`, eight parallel arrays) and the core's `RaftLog` (one array) — as the
 * logs grow without compaction. Most batches cost well under a millisecond; the one that crosses
 * an array's capacity reallocates and copies every array at once, and that cost grows with the
 * log. Run: `tsx bench/processes/logGrowth.ts [ENTRIES]` (default 2,000,000). Prints JSON lines.
 */
import { Columns } from "../../layers/raft/storage/inmemory/StoredLog.js"
import type { LogEntry } from "../../services/raft/LogEntry.js"
import { RaftLog } from "../../src/raft/core/RaftLog.js"
import { round } from "../stats.js"

const BATCH = 4096
const total = Number(process.argv[2] ?? 2_000_000)
const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const columns = new Columns()
const log = new RaftLog()
const costs: Array<number> = []
let index = 1
while (index <= total) {
  const entries: Array<LogEntry> = []
  for (let k = 0; k < BATCH; k++, index++) {
    entries.push({
      _tag: "Command",
      index,
      term: 2,
      command: new Uint8Array(16),
      dedupKey: { clientId: "auto:n1-0123456789abcdef" as never, requestId: index }
    } as LogEntry)
  }
  const t0 = cpuMs()
  columns.appendEntries(entries)
  const t1 = cpuMs()
  log.append(entries)
  const t2 = cpuMs()
  costs.push(t2 - t0)
  // A batch ten times the typical one is a reallocation (or a garbage collection it triggered).
  if (t2 - t0 > 10) {
    console.log(JSON.stringify({ bench: "log_growth.slow_batch", entries_before: index - 1 - BATCH, columns_ms: round(t1 - t0), raft_log_ms: round(t2 - t1) }))
  }
}
costs.sort((a, b) => a - b)
console.log(JSON.stringify({
  bench: "log_growth.batch_cpu_ms",
  batches: costs.length,
  p50: round(costs[Math.floor(costs.length / 2)]!, 2),
  max: round(costs[costs.length - 1]!, 1)
}))
