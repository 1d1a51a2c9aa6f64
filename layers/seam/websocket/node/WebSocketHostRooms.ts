/**
 * The host's rooms: admission, resume, relay, rosters, heartbeats and reconnect windows, over
 * abstract links (`HostLink`). Everything here is synchronous bookkeeping on plain objects, driven
 * by the socket handlers and one sweep fiber (see `WebSocketHost.ts`), so every check-and-register
 * step is atomic: two hellos can never both pass a "room full" or "peer id in use" check.
 *
 * Rooms are isolated by construction: a member's frames are only ever looked up in, and sent to,
 * its own room's member map.
 *
 * Identity: a slot is taken back by a resume token (a dropped link), or by a fresh hello of the
 * same authenticated principal (a restarted process): the stale connection, if any, is closed
 * with `Superseded` and the member is bound to the new one at once, without waiting for the
 * reconnect window. A hello of another principal, or any hello on an open host, gets `PeerIdInUse`.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { encodeMessage, PROTOCOL_VERSION, RELAY_OVERHEAD_BYTES } from "../Protocol.js"
import type { Hello } from "../Protocol.js"
import { RejectCode, rejectCodeName } from "../RejectCode.js"
import type { HostLink } from "./HostMembers.js"
import { Connection, Member, Room } from "./HostMembers.js"
import type { HostCounters, Principal, ResolvedHostOptions, RoomStats } from "./WebSocketHostOptions.js"

export type { HostLink } from "./HostMembers.js"
export { Connection, Member, Room } from "./HostMembers.js"

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

  constructor(
    readonly options: ResolvedHostOptions,
    readonly counters: HostCounters,
    /** Current time in ms (the host's `Clock`), read per frame by the rate limits. */
    readonly now: () => number
  ) {
    this.budget = options.maxFrameBytes - RELAY_OVERHEAD_BYTES
  }

  /** Open connections per remote address. */
  private readonly addresses = new Map<string, number>()

  /**
   * A new socket: refused with `HostFull` past `maxConnections` and with `AddressLimit` past
   * `maxConnectionsPerAddress`, else tracked for the handshake.
   */
  open(link: HostLink, now: number): Connection | undefined {
    this.counters.connectionsOpened++
    const o = this.options
    if (this.connections.size >= o.maxConnections) {
      this.refuse(link, RejectCode.HostFull, `the host has ${o.maxConnections} connections`)
      return undefined
    }
    const address = link.address
    const fromAddress = address === undefined ? 0 : this.addresses.get(address) ?? 0
    if (fromAddress >= o.maxConnectionsPerAddress) {
      this.refuse(link, RejectCode.AddressLimit, `${o.maxConnectionsPerAddress} connections from this address are open`)
      return undefined
    }
    if (address !== undefined) this.addresses.set(address, fromAddress + 1)
    const conn = new Connection(link, now, o)
    this.connections.add(conn)
    return conn
  }

  /**
   * Charges one received message to the connection's rate limits. Returns 0, or the ms for which
   * the connection has been paused (the caller resumes it with `unpause` after that long).
   */
  throttle(conn: Connection, bytes: number, now: number): number {
    const wait = Math.max(conn.messages.take(1, now), conn.bytes.take(bytes, now))
    if (wait <= 0 || conn.paused || conn.phase === "closed") return 0
    conn.paused = true
    this.counters.rateLimited++
    this.updateReading(conn)
    return Math.ceil(wait)
  }

  /** Ends a rate-limit pause. */
  unpause(conn: Connection): void {
    if (!conn.paused) return
    conn.paused = false
    this.updateReading(conn)
  }

  /**
   * Counts one frame in the current loop turn; true when the connection already had
   * `maxFramesPerTurn` this turn (the caller defers the frame to a later turn).
   */
  overQuantum(conn: Connection, turn: number): boolean {
    if (conn.turn !== turn) {
      conn.turn = turn
      conn.turnFrames = 0
    }
    return ++conn.turnFrames > this.options.maxFramesPerTurn
  }

  /** Reads from the socket unless it is rate-limited or has a backlog. */
  updateReading(conn: Connection): void {
    if (conn.phase === "closed") return
    if (conn.paused || conn.backlog !== undefined) conn.link.pause()
    else conn.link.resume()
  }

  /** Sends a `Reject` and closes with the same code. */
  refuse(link: HostLink, code: number, reason: string): void {
    const name = rejectCodeName(code)
    this.counters.rejected[name] = (this.counters.rejected[name] ?? 0) + 1
    link.send(encodeMessage({ _tag: "Reject", code, reason }))
    link.close(code, reason.slice(0, 120))
  }

  /** Refuses or ends a tracked connection; the sweep destroys it if its close does not complete. */
  reject(conn: Connection, code: number, reason: string): void {
    if (conn.phase === "closed") return
    conn.phase = "closed"
    conn.terminateAt ??= this.nowMs + Math.max(this.options.slowConsumerGraceMs, this.options.handshakeTimeoutMs)
    this.refuse(conn.link, code, reason)
  }

  /** Counts a bad frame; past `maxBadFrames` the connection is closed (`ProtocolViolation`). */
  badFrame(conn: Connection): void {
    this.counters.droppedBadFrames++
    if (++conn.badFrames > this.options.maxBadFrames) {
      this.reject(conn, RejectCode.ProtocolViolation, `more than ${this.options.maxBadFrames} bad frames`)
    }
  }

  /**
   * Sends to a member's connection. One that would hold more than `maxOutboundBytesPerConnection`
   * unsent is a slow reader: this frame and every later one for it are dropped (counted), it is
   * closed with `SlowConsumer` (the close frame queues behind its backlog) and destroyed by the
   * sweep if still open after `slowConsumerGrace`; its member falls into the reconnect window.
   */
  deliver(conn: Connection, bytes: Uint8Array): void {
    if (conn.phase !== "member") {
      if (conn.terminateAt !== undefined) this.counters.droppedSlowConsumer++
      return
    }
    if (conn.link.bufferedAmount() + bytes.byteLength > this.options.maxOutboundBytesPerConnection) {
      this.counters.slowConsumers++
      this.counters.droppedSlowConsumer++
      conn.terminateAt = this.nowMs + this.options.slowConsumerGraceMs
      this.reject(conn, RejectCode.SlowConsumer, `more than ${this.options.maxOutboundBytesPerConnection} bytes unread`)
      this.dropped(conn)
      return
    }
    this.counters.framesDelivered++
    this.counters.bytesDelivered += bytes.byteLength
    conn.link.send(bytes)
  }

  /**
   * Admits a hello (already decoded, version-checked and authenticated: `principal` is who the
   * identity check says it is, `undefined` on an open host). A valid resume token, or a fresh hello
   * of the same principal, takes the old slot back (see the module comment).
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
      if (member.principal !== principal) return this.reject(conn, RejectCode.AuthRefused, "the slot belongs to another identity")
      this.takeOver(conn, member, "resumed on a newer connection")
      this.counters.resumed++
      this.welcome(conn, member, true)
      return
    }
    let room = this.rooms.get(hello.room)
    let peerId = hello.peerId
    if (peerId !== undefined) {
      const held = room?.members.get(peerId)
      if (held !== undefined) {
        if (principal === undefined || held.principal !== principal) {
          const why = principal === undefined
            ? "and this host has no identity check, so the slot is kept for its holder's resume"
            : "and held by another identity"
          return this.reject(conn, RejectCode.PeerIdInUse, `peer id "${peerId}" is in use in room "${hello.room}" ${why}`)
        }
        // The same identity again: a restarted process. Its stale link cannot resume any more.
        this.takeOver(conn, held, "the same identity joined again")
        this.counters.takeovers++
        this.welcome(conn, held, false)
        return
      }
    }
    if (room === undefined) {
      if (this.rooms.size >= o.maxRooms) return this.reject(conn, RejectCode.HostFull, `the host has ${o.maxRooms} rooms`)
    } else if (room.members.size >= o.roomCapacity) {
      return this.reject(conn, RejectCode.RoomFull, `room "${hello.room}" has ${o.roomCapacity} members`)
    }
    if (peerId === undefined) {
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

  /** Moves `member` to `conn`: its old connection (if any) is closed as `Superseded`, its token rotated. */
  private takeOver(conn: Connection, member: Member, why: string): void {
    const old = member.conn
    if (old !== undefined) {
      old.member = undefined
      this.reject(old, RejectCode.Superseded, why)
    }
    this.tokens.delete(member.token)
    member.token = this.newToken(member)
    this.bind(conn, member)
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

  /** The socket closed (for any reason): a member without `Bye` keeps its slot for the window. */
  onClose(conn: Connection): void {
    this.connections.delete(conn)
    if (!conn.released) {
      conn.released = true
      const address = conn.link.address
      if (address !== undefined) {
        const n = (this.addresses.get(address) ?? 1) - 1
        if (n <= 0) this.addresses.delete(address)
        else this.addresses.set(address, n)
      }
    }
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
          }
          break
        case "member":
          if (now - conn.lastHeard >= 3 * o.heartbeatIntervalMs) {
            this.counters.heartbeatTimeouts++
            conn.link.terminate()
            this.dropped(conn)
          } else if (pingFrame !== undefined) {
            this.deliver(conn, pingFrame)
          }
          break
        case "closed":
          // Closed by the host, but the socket is still open: its peer did not finish the close.
          if (conn.terminateAt !== undefined && now >= conn.terminateAt) {
            conn.terminateAt = undefined
            conn.link.terminate()
          }
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
    this.dropped(conn)
    return true
  }

  /** Closes every connection with `HostClosing` (each leaves `connections` when its socket closes). */
  closeAll(): void {
    for (const conn of this.connections) this.reject(conn, RejectCode.HostClosing, "the host is closing")
  }

  /** Destroys every socket still open (after `closeAll` had its chance). */
  terminateAll(): void {
    for (const conn of this.connections) conn.link.terminate()
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
