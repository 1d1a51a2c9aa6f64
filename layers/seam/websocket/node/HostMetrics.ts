/**
 * Effect `Metric`s of a WebSocket host, labelled `host=<serverPeerId>`: open connections, rooms and
 * members (gauges); frames and bytes delivered, refusals by reason, rate-limit pauses, slow readers,
 * identity takeovers (counters).
 *
 * The relay's hot path only bumps plain numbers (`HostCounters`); the sweep publishes the
 * differences since its previous run, so a relayed frame costs no metric lookup. Figures lag the
 * counters by at most one sweep period (and are flushed when the host closes).
 */
import { Metric, MetricLabel } from "effect"
import type { HostRooms } from "./WebSocketHostRooms.js"
import type { HostCounters } from "./WebSocketHostOptions.js"

/** Open WebSocket connections (including ones in the handshake). */
export const connections = Metric.gauge("kuilt_ws_host_connections")
/** Rooms with at least one member. */
export const rooms = Metric.gauge("kuilt_ws_host_rooms")
/** Members holding a slot (connected or inside their reconnect window). */
export const members = Metric.gauge("kuilt_ws_host_members")
/** Frames written to members (a broadcast counts once per receiver; pings included). */
export const framesRelayed = Metric.counter("kuilt_ws_host_frames_relayed_total", { incremental: true })
/** Bytes of those frames. */
export const bytesRelayed = Metric.counter("kuilt_ws_host_bytes_relayed_total", { incremental: true })
/** Connections refused or ended by the host, labelled `reason` (a `RejectCode` name). */
export const refusals = Metric.counter("kuilt_ws_host_refusals_total", { incremental: true })
/** Times a connection was paused for exceeding its message or byte rate. */
export const rateLimited = Metric.counter("kuilt_ws_host_rate_limited_total", { incremental: true })
/** Connections ended as slow readers. */
export const slowReaders = Metric.counter("kuilt_ws_host_slow_readers_total", { incremental: true })
/** Frames dropped because they were bound for a slow reader being closed. */
export const droppedSlowReader = Metric.counter("kuilt_ws_host_dropped_slow_reader_total", { incremental: true })
/** Frames dropped as undecodable or not allowed from a client. */
export const droppedBadFrames = Metric.counter("kuilt_ws_host_dropped_bad_frames_total", { incremental: true })
/** Slots taken back by a fresh join of the same identity (restarted processes). */
export const takeovers = Metric.counter("kuilt_ws_host_takeovers_total", { incremental: true })

/** Publishes a host's counters as metrics, by difference since the last `flush`. */
export class HostMetrics {
  private readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  private last: {
    frames: number
    bytes: number
    rateLimited: number
    slow: number
    droppedSlow: number
    bad: number
    takeovers: number
    rejected: Record<string, number>
  } = { frames: 0, bytes: 0, rateLimited: 0, slow: 0, droppedSlow: 0, bad: 0, takeovers: 0, rejected: {} }

  constructor(serverPeerId: string, private readonly counters: HostCounters) {
    this.labels = [MetricLabel.make("host", serverPeerId)]
  }

  flush(hostRooms: HostRooms): void {
    const c = this.counters
    const l = this.labels
    const last = this.last
    connections.unsafeUpdate(hostRooms.connections.size, l)
    rooms.unsafeUpdate(hostRooms.rooms.size, l)
    let n = 0
    for (const room of hostRooms.rooms.values()) n += room.members.size
    members.unsafeUpdate(n, l)
    const add = (metric: Metric.Metric.Counter<number>, now: number, before: number) => {
      if (now > before) metric.unsafeUpdate(now - before, l)
    }
    add(framesRelayed, c.framesDelivered, last.frames)
    add(bytesRelayed, c.bytesDelivered, last.bytes)
    add(rateLimited, c.rateLimited, last.rateLimited)
    add(slowReaders, c.slowConsumers, last.slow)
    add(droppedSlowReader, c.droppedSlowConsumer, last.droppedSlow)
    add(droppedBadFrames, c.droppedBadFrames, last.bad)
    add(takeovers, c.takeovers, last.takeovers)
    const rejected: Record<string, number> = {}
    for (const [reason, count] of Object.entries(c.rejected)) {
      rejected[reason] = count
      const before = last.rejected[reason] ?? 0
      if (count > before) refusals.unsafeUpdate(count - before, [...l, MetricLabel.make("reason", reason)])
    }
    if (c.originRefused > (last.rejected["OriginRefused"] ?? 0)) {
      refusals.unsafeUpdate(c.originRefused - (last.rejected["OriginRefused"] ?? 0), [...l, MetricLabel.make("reason", "OriginRefused")])
    }
    rejected["OriginRefused"] = c.originRefused
    this.last = {
      frames: c.framesDelivered,
      bytes: c.bytesDelivered,
      rateLimited: c.rateLimited,
      slow: c.slowConsumers,
      droppedSlow: c.droppedSlowConsumer,
      bad: c.droppedBadFrames,
      takeovers: c.takeovers,
      rejected
    }
  }
}
