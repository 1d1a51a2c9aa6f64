/**
 * Routing of an admitted member's frames: relays inside its own room with the sender stamped from
 * the connection, pings, a clean leave, and host-only or repeated frames dropped as bad.
 */
import { encodeMessage, encodeRelayWith, MessageType } from "../Protocol.js"
import type { WireMessage } from "../Protocol.js"
import type { Connection } from "./HostMembers.js"
import type { HostRooms } from "./WebSocketHostRooms.js"

/** Routes one decoded frame from an admitted member. */
export const route = (rooms: HostRooms, conn: Connection, message: WireMessage): void => {
  const from = conn.member!
  switch (message._tag) {
    case "RelayTo": {
      if (message.payload.byteLength > rooms.budget) {
        rooms.counters.droppedOverBudget++
        return
      }
      const target = from.room.members.get(message.to)
      if (target === undefined || target.conn === undefined || target === from) {
        rooms.counters.droppedNoPeer++
        return
      }
      rooms.counters.relayed++
      rooms.deliver(target.conn, encodeRelayWith(MessageType.RelayFrom, from.idBytes, message.payload))
      return
    }
    case "Broadcast": {
      if (message.payload.byteLength > rooms.budget) {
        rooms.counters.droppedOverBudget++
        return
      }
      rooms.counters.broadcasts++
      const frame = encodeRelayWith(MessageType.RelayFrom, from.idBytes, message.payload)
      for (const m of from.room.members.values()) if (m !== from && m.conn !== undefined) rooms.deliver(m.conn, frame)
      return
    }
    case "Ping":
      rooms.deliver(conn, encodeMessage({ _tag: "Pong", nonce: message.nonce }))
      return
    case "Pong":
      return
    case "Bye":
      conn.byeReceived = true
      rooms.leave(from)
      conn.member = undefined
      conn.phase = "closed"
      conn.link.close(1000, "bye")
      return
    case "Hello":
    case "Welcome":
    case "Reject":
    case "Roster":
    case "RelayFrom":
      // A second hello or a host-only frame: the sender is confused or hostile. Never relayed.
      rooms.badFrame(conn)
      return
  }
}
