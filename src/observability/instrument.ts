/**
 * Tracing and timing wrappers for a node and its storage: what the `kuilt` command runs its
 * nodes through, and what an application can use the same way (they change no behaviour).
 *
 * - `instrumentNode(node)`: a `RaftNodeShape` whose `propose`, `readIndex`, `readFence`,
 *   `changeMembership` and `transferLeadership` run inside spans (`kuilt.raft.propose`,
 *   `kuilt.raft.read`, `kuilt.raft.membership`, `kuilt.raft.transfer`) carrying the node id.
 *   The engine itself creates no span per call (it answers a proposal in about a microsecond; a
 *   span costs more), so tracing is opt-in here, at the edge.
 * - `instrumentStorage(node, storage)`: times every write batch into the histogram
 *   `kuilt_raft_storage_write_ms{node}` and runs it in a `kuilt.storage.write` span (attributes:
 *   entries appended, whether it persists a snapshot); a snapshot persisted is also counted in
 *   `kuilt_raft_snapshots_persisted_total{node}`. A storage with a synchronous fast path keeps it
 *   (in-memory storages: nothing to time).
 *
 * Spans go to whatever `Tracer` the program provides (none by default: they cost little); see the
 * README's OpenTelemetry recipe.
 */
import { Effect, Metric, MetricBoundaries, MetricLabel } from "effect"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import type { RaftStorageShape, WriteBatch } from "../../services/raft/RaftStorage.js"

/** Milliseconds one storage write batch took (the engine's one write per turn). */
export const storageWriteLatency = Metric.histogram(
  "kuilt_raft_storage_write_ms",
  MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 18 }),
  "Milliseconds one Raft storage write batch took (one per engine turn)"
)
/** Snapshots written to storage (taken locally or installed from a leader). */
export const snapshotsPersisted = Metric.counter("kuilt_raft_snapshots_persisted_total", {
  incremental: true,
  description: "Snapshots written to a node's storage"
})

/** A node whose API calls run inside spans (see the module comment). */
export const instrumentNode = (node: RaftNodeShape): RaftNodeShape => {
  const attributes = { "kuilt.node": node.id }
  return {
    ...node,
    // The overloads differ only in the error channel; the wrapper keeps whichever was called.
    propose: ((command: Uint8Array, options?: Parameters<RaftNodeShape["propose"]>[1]) =>
      Effect.withSpan((node.propose as (c: Uint8Array, o?: unknown) => ReturnType<RaftNodeShape["propose"]>)(command, options), "kuilt.raft.propose", {
        attributes: { ...attributes, "kuilt.bytes": command.byteLength }
      })) as RaftNodeShape["propose"],
    readIndex: Effect.withSpan(node.readIndex, "kuilt.raft.read", { attributes: { ...attributes, "kuilt.read": "leader" } }),
    readFence: Effect.withSpan(node.readFence, "kuilt.raft.read", { attributes: { ...attributes, "kuilt.read": "fence" } }),
    changeMembership: (target) =>
      Effect.withSpan(node.changeMembership(target), "kuilt.raft.membership", {
        attributes: { ...attributes, "kuilt.voters": [...target.voters].join(","), "kuilt.learners": [...target.learners].join(",") }
      }),
    transferLeadership: (target) =>
      Effect.withSpan(node.transferLeadership(target), "kuilt.raft.transfer", { attributes: { ...attributes, "kuilt.target": target } })
  }
}

const describeBatch = (batch: WriteBatch) => ({
  "kuilt.entries": batch.append?.length ?? 0,
  "kuilt.snapshot": batch.snapshot !== undefined
})

/** A storage whose writes are timed and traced (see the module comment). */
export const instrumentStorage = (node: string, storage: RaftStorageShape): RaftStorageShape => {
  const labels = [MetricLabel.make("node", node)]
  const latency = storageWriteLatency.pipe(Metric.taggedWithLabels(labels))
  const snapshots = snapshotsPersisted.pipe(Metric.taggedWithLabels(labels))
  return {
    ...storage,
    write: (batch) =>
      Effect.gen(function*() {
        const started = yield* Effect.clockWith((c) => c.currentTimeNanos)
        yield* storage.write(batch)
        const ended = yield* Effect.clockWith((c) => c.currentTimeNanos)
        yield* Metric.update(latency, Number(ended - started) / 1e6)
        if (batch.snapshot !== undefined) yield* Metric.increment(snapshots)
      }).pipe(Effect.withSpan("kuilt.storage.write", { attributes: { "kuilt.node": node, ...describeBatch(batch) } }))
  }
}
