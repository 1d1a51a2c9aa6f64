/**
 * The host's rooms: admission, resume, relay, rosters, heartbeats and reconnect windows, over
 * abstract links (`HostLink`). Everything here is synchronous bookkeeping on plain objects, driven
 * by the socket handlers and one sweep fiber (see `WebSocketHost.ts`), so every check-and-register
 * step is atomic: two hellos can never both pass a "room full" or "peer id in use" check.
 *
 * Rooms are isolated by construction: a member's frames are only ever looked up in, and sent to,
 * its own room's member map.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { encodeMessage, encodeRelayWith, MessageType, peerIdBytes, PROTOCOL_VERSION, RELAY_OVERHEAD_BYTES } from "../Protocol.js"
import type { Hello, WireMessage } from "../Protocol.js"
import { RejectCode, rejectCodeName } from "../RejectCode.js"
import type { HostCounters, Principal, ResolvedHostOptions, RoomStats } from "./WebSocketHostOptions.js"

/** One accepted WebSocket, as the rooms see it. */
export interface HostLink {
  /** Queues one binary message. */
  readonly send: (bytes: Uint8Array) => void
  /** Bytes queued and not yet written to the socket. */
  readonly bufferedAmount: () => number
  /** Closes with a close frame (queued after pending data). */
  readonly close: (code: number, reason: string) => void
  /** Destroys the socket at once (frees its buffers; the peer sees 1006). */
  readonly terminate: () => void
  readonly origin: string | undefined
}

export class Connection {
  phase: "handshake" | "authenticating" | "member" | "closed" = "handshake"
  member: Member | undefined = undefined
  heard = true
  lastHeard: number
  badFrames = 0
  byeReceived = false
  constructor(readonly link: HostLink, readonly openedAt: number) {
    this.lastHeard = openedAt
  }
}

export class Member {
  conn: Connection | undefined = undefined
  /** The id's UTF-8 bytes, written into every frame this member sends. */
  readonly idBytes: Uint8Array
  /** When the connection dropped (the reconnect window runs from here). */
  droppedAt = 0
  constructor(
    readonly peerId: string,
    readonly room: Room,
    public token: string,
    readonly displayName: string,
    readonly principal: Principal | undefined
  ) {
    this.idBytes = peerIdBytes(peerId)
  }
}

export class Room {
  readonly members = new Map<string, Member>()
  constructor(readonly name: string) {}
}

const tokenKey = (token: Uint8Array): string => Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString("hex")

export class HostRooms {
  readonly rooms = new Map<string, Room>()
  readonly connections = new Set<Connection>()
  private readonly tokens = new Map<string, Member>()
  /** Members whose connection dropped, waiting out their reconnect window. */
  private readonly partitioned = new Set<Member>()
  private pingNonce = 0
  private lastPingAt = 0
  readonly budget: number

  constructor(readonly options: ResolvedHostOptions, readonly counters: HostCounters) {
    this.budget = options.maxFrameBytes - RELAY_OVERHEAD_BYTES
  }

  /** A new socket: refused with `HostFull` past `maxConnections`, else tracked for the handshake. */
  open(link: HostLink, now: number): Connection | undefined {
    this.counters.connectionsOpened++
    if (this.connections.size >= this.options.maxConnections) {
      this.refuse(link, RejectCode.HostFull, `the host has ${this.options.maxConnections} connections`)
      return undefined
    }
    const conn = new Connection(link, now)
    this.connections.add(conn)
    return conn
  }

  /** Sends a `Reject` and closes with the same code. */
  refuse(link: HostLink, code: number, reason: string): void {
    const name = rejectCodeName(code)
    this.counters.rejected[name] = (this.counters.rejected[name] ?? 0) + 1
    link.send(encodeMessage({ _tag: "Reject", code, reason }))
    link.close(code, reason.slice(0, 120))
  }

  reject(conn: Connection, code: number, reason: string): void {
    if (conn.phase === "closed") return
    conn.phase = "closed"
    this.refuse(conn.link, code, reason)
  }

  /** Counts a bad frame; past `maxBadFrames` the connection is closed (`ProtocolViolation`). */
  badFrame(conn: Connection): void {
    this.counters.droppedBadFrames++
    if (++conn.badFrames > this.options.maxBadFrames) {
      this.reject(conn, RejectCode.ProtocolViolation, `more than ${this.options.maxBadFrames} bad frames`)
    }
  }

  /** Sends to a member's connection, disconnecting it when its outbound buffer is over the bound. */
  deliver(conn: Connection, bytes: Uint8Array): void {
    if (conn.phase !== "member") return
    if (conn.link.bufferedAmount() + bytes.byteLength > this.options.maxOutboundBytesPerConnection) {
      // A close frame would queue behind the very backlog the peer is not reading, so the socket is
      // destroyed: the backlog is freed now and the member falls into its reconnect window.
      this.counters.slowConsumers++
      conn.link.terminate()
      this.dropped(conn)
      return
    }
    conn.link.send(bytes)
  }

  /**
   * Admits a hello (already decoded, version-checked and authenticated). Resume with a valid token
   * takes the old slot back (a still-open old connection is closed as `Superseded`).
   */
  admit(conn: Connection, hello: Hello, principal: Principal | undefined): void {
    if (conn.phase === "closed") return
    const o = this.options
    if (hello.resumeToken !== undefined) {
      const member = this.tokens.get(tokenKey(hello.resumeToken))
      if (
        member === undefined || member.room.name !== hello.room ||
        (hello.peerId !== undefined && hello.peerId !== member.peerId)
      ) {
        return this.reject(conn, RejectCode.ResumeTokenInvalid, "unknown, expired or foreign resume token")
      }
      const old = member.conn
      if (old !== undefined) {
        old.member = undefined
        this.reject(old, RejectCode.Superseded, "resumed on a newer connection")
        this.connections.delete(old)
      }
      this.tokens.delete(member.token)
      member.token = this.newToken(member)
      this.bind(conn, member)
      this.counters.resumed++
      this.welcome(conn, member, true)
      return
    }
    let room = this.rooms.get(hello.room)
    if (room === undefined) {
      if (this.rooms.size >= o.maxRooms) return this.reject(conn, RejectCode.HostFull, `the host has ${o.maxRooms} rooms`)
    } else if (room.members.size >= o.roomCapacity) {
      return this.reject(conn, RejectCode.RoomFull, `room "${hello.room}" has ${o.roomCapacity} members`)
    }
    let peerId = hello.peerId
    if (peerId !== undefined) {
      if (room?.members.has(peerId)) {
        return this.reject(conn, RejectCode.PeerIdInUse, `peer id "${peerId}" is live in room "${hello.room}"`)
      }
    } else {
      do peerId = randomUUID()
      while (room?.members.has(peerId))
    }
    if (room === undefined) {
      room = new Room(hello.room)
      this.rooms.set(room.name, room)
    }
    const member = new Member(peerId, room, "", hello.displayName, principal)
    member.token = this.newToken(member)
    room.members.set(peerId, member)
    this.bind(conn, member)
    this.counters.admitted++
    this.welcome(conn, member, false)
    this.pushRoster(room, member)
  }

  private newToken(member: Member): string {
    const key = randomBytes(16).toString("hex")
    this.tokens.set(key, member)
    return key
  }

  private bind(conn: Connection, member: Member): void {
    this.partitioned.delete(member)
    conn.phase = "member"
    conn.member = member
    member.conn = conn
  }

  private welcome(conn: Connection, member: Member, resumed: boolean): void {
    const o = this.options
    this.deliver(conn, encodeMessage({
      _tag: "Welcome",
      protocolVersion: PROTOCOL_VERSION,
      serverPeerId: o.serverPeerId,
      room: member.room.name,
      peerId: member.peerId,
      resumeToken: Uint8Array.from(Buffer.from(member.token, "hex")),
      maxPayloadBytes: this.budget,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      reconnectWindowMs: o.reconnectWindowMs,
      resumed,
      roster: [...member.room.members.keys()]
    }))
  }

  /** Tells every connected member of `room` (but `except`, already told) the new member set. */
  private pushRoster(room: Room, except?: Member): void {
    const frame = encodeMessage({ _tag: "Roster", peers: [...room.members.keys()] })
    for (const m of room.members.values()) if (m !== except && m.conn !== undefined) this.deliver(m.conn, frame)
  }

  /** Routes one decoded frame from an admitted member. */
  onMemberMessage(conn: Connection, message: WireMessage): void {
    const from = conn.member!
    switch (message._tag) {
      case "RelayTo": {
        if (message.payload.byteLength > this.budget) {
          this.counters.droppedOverBudget++
          return
        }
        const target = from.room.members.get(message.to)
        if (target === undefined || target.conn === undefined || target === from) {
          this.counters.droppedNoPeer++
          return
        }
        this.counters.relayed++
        this.deliver(target.conn, encodeRelayWith(MessageType.RelayFrom, from.idBytes, message.payload))
        return
      }
      case "Broadcast": {
        if (message.payload.byteLength > this.budget) {
          this.counters.droppedOverBudget++
          return
        }
        this.counters.broadcasts++
        const frame = encodeRelayWith(MessageType.RelayFrom, from.idBytes, message.payload)
        for (const m of from.room.members.values()) if (m !== from && m.conn !== undefined) this.deliver(m.conn, frame)
        return
      }
      case "Ping":
        this.deliver(conn, encodeMessage({ _tag: "Pong", nonce: message.nonce }))
        return
      case "Pong":
        return
      case "Bye":
        conn.byeReceived = true
        this.leave(from)
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
        this.badFrame(conn)
        return
    }
  }

  /** The socket closed (for any reason): a member without `Bye` keeps its slot for the window. */
  onClose(conn: Connection): void {
    this.connections.delete(conn)
    if (conn.phase !== "closed") conn.phase = "closed"
    this.dropped(conn)
  }

  private dropped(conn: Connection): void {
    conn.phase = "closed"
    const member = conn.member
    conn.member = undefined
    if (member === undefined || member.conn !== conn) return
    member.conn = undefined
    member.droppedAt = this.nowMs
    if (this.options.reconnectWindowMs <= 0) this.leave(member)
    else this.partitioned.add(member)
  }

  /** Removes a member for good: frees its token and slot, tells the room, drops an empty room. */
  leave(member: Member): void {
    const room = member.room
    if (room.members.get(member.peerId) !== member) return
    room.members.delete(member.peerId)
    this.partitioned.delete(member)
    this.tokens.delete(member.token)
    member.conn = undefined
    if (room.members.size === 0) this.rooms.delete(room.name)
    else this.pushRoster(room)
  }

  /** The time of the last sweep; handlers use it instead of reading a clock per frame. */
  nowMs = 0

  /**
   * Periodic work: handshake timeouts, pings, heartbeat timeouts, expired reconnect windows.
   * A connection counts as heard when any frame arrived since the previous sweep.
   */
  sweep(now: number): void {
    this.nowMs = now
    const o = this.options
    const ping = now - this.lastPingAt >= o.heartbeatIntervalMs
    const pingFrame = ping ? encodeMessage({ _tag: "Ping", nonce: (this.pingNonce = (this.pingNonce + 1) >>> 0) }) : undefined
    if (ping) this.lastPingAt = now
    for (const conn of this.connections) {
      if (conn.heard) {
        conn.heard = false
        conn.lastHeard = now
      }
      switch (conn.phase) {
        case "handshake":
        case "authenticating":
          if (now - conn.openedAt >= o.handshakeTimeoutMs) {
            this.reject(conn, RejectCode.HandshakeTimeout, `no admission within ${o.handshakeTimeoutMs} ms`)
            this.connections.delete(conn)
          }
          break
        case "member":
          if (now - conn.lastHeard >= 3 * o.heartbeatIntervalMs) {
            this.counters.heartbeatTimeouts++
            conn.link.terminate()
            this.connections.delete(conn)
            this.dropped(conn)
          } else if (pingFrame !== undefined) {
            this.deliver(conn, pingFrame)
          }
          break
        case "closed":
          break
      }
    }
    for (const m of [...this.partitioned]) {
      if (now - m.droppedAt >= o.reconnectWindowMs) {
        this.counters.windowsExpired++
        this.leave(m)
      }
    }
  }

  /** Destroys a member's socket as a network failure would; the member keeps its slot. */
  dropLink(roomName: string, peerId: string): boolean {
    const conn = this.rooms.get(roomName)?.members.get(peerId)?.conn
    if (conn === undefined) return false
    conn.link.terminate()
    this.connections.delete(conn)
    this.dropped(conn)
    return true
  }

  /** Closes every connection with `HostClosing`. */
  closeAll(): void {
    for (const conn of this.connections) this.reject(conn, RejectCode.HostClosing, "the host is closing")
    this.connections.clear()
  }

  stats(): ReadonlyArray<RoomStats> {
    return [...this.rooms.values()].map((room) => ({
      name: room.name,
      members: [...room.members.values()].map((m) => ({
        peerId: m.peerId,
        displayName: m.displayName,
        connected: m.conn !== undefined,
        principal: m.principal
      }))
    }))
  }
}
