/**
 * The client side of one room membership: the `Seam` a joiner gets, fed by whichever connection
 * is current (the first one, then each resumed one).
 *
 * Lifecycle (a degraded but recoverable seam reports `Weaving`; see `services/seam/SeamState.ts`): `Woven`
 * while a connection is admitted; `Weaving` while the link is down and a resume or rejoin is being
 * tried (peers stay as last known; sends are accepted and dropped, like frames lost in flight);
 * `Torn` when closed or when reconnection gives up (see `Reconnect.ts`). The roster is the host's:
 * it lists members holding a slot, including ones inside their own reconnect window.
 *
 * Everything here runs synchronously in the socket's message handler or in a send, so frames,
 * roster updates and state changes are applied in arrival order.
 */
import { Effect, Option } from "effect"
import type { DeliveryPolicy } from "../../../../services/seam/DeliveryPolicy.js"
import type { PeerId } from "../../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../../services/seam/Seam.js"
import { FrameOverflow, PayloadTooLarge, PeerNotConnected, SeamTorn } from "../../../../services/seam/SeamErrors.js"
import type { SendError } from "../../../../services/seam/SeamErrors.js"
import { CloseReason, SeamState } from "../../../../services/seam/SeamState.js"
import { Cell } from "../../../../src/internal/Cell.js"
import { Inbox, SEAM_FAST_PATH } from "../../../../src/seam/Inbox.js"
import type { SeamFastPath } from "../../../../src/seam/Inbox.js"
import type { ClientLink } from "./ClientLink.js"
import { encodeBroadcast, encodeMessage, encodeRelayWith, MessageType, peerIdBytes } from "../Protocol.js"
import type { Welcome, WireMessage } from "../Protocol.js"

/** Frames a client session dropped or refused, by cause (updated in place). */
export interface ClientCounters {
  /** Sends made while the link was down (between a drop and the resume). */
  droppedWhileDown: number
  /** Broadcasts over the budget (dropped silently, as the Seam contract says). */
  droppedOverBudget: number
  /** Frames from the host that did not decode. */
  droppedBadFrames: number
  /** Successful resumes after a drop. */
  resumes: number
  /** Fresh joins with the same identity after the host refused a resume (e.g. it restarted). */
  rejoins: number
}

export class ClientSession {
  readonly selfId: PeerId
  readonly inbox: Inbox
  readonly peers: Cell<ReadonlySet<PeerId>>
  readonly state: Cell<SeamState>
  readonly counters: ClientCounters = {
    droppedWhileDown: 0,
    droppedOverBudget: 0,
    droppedBadFrames: 0,
    resumes: 0,
    rejoins: 0
  }
  budget: number
  token: Uint8Array
  link: ClientLink | undefined = undefined
  /** The most recent link, kept after a tear so its resources can be released. */
  lastLink: ClientLink | undefined = undefined
  torn: CloseReason | undefined = undefined
  /** A frame arrived since the heartbeat check last looked. */
  heard = true
  /** The current host's ping period. */
  heartbeatIntervalMs: number
  private admissions = 0

  constructor(
    welcome: Welcome,
    readonly policy: DeliveryPolicy,
    /** Most frames queued for the collector before the seam tears (`FrameOverflow`). */
    readonly maxBufferedFrames: number,
    /** The caller's cap on the payload budget, if any. */
    readonly budgetCap: number | undefined
  ) {
    this.selfId = welcome.peerId as PeerId
    this.inbox = new Inbox(this.selfId, policy)
    this.budget = this.budgetOf(welcome)
    this.token = welcome.resumeToken
    this.heartbeatIntervalMs = welcome.heartbeatIntervalMs
    this.peers = new Cell<ReadonlySet<PeerId>>(this.rosterOf(welcome.roster))
    this.state = new Cell<SeamState>(SeamState.Weaving())
  }

  private budgetOf(welcome: Welcome): number {
    return this.budgetCap === undefined ? welcome.maxPayloadBytes : Math.min(this.budgetCap, welcome.maxPayloadBytes)
  }

  private rosterOf(roster: ReadonlyArray<string>): ReadonlySet<PeerId> {
    const set = new Set(roster as ReadonlyArray<PeerId>)
    set.add(this.selfId)
    return set
  }

  /** A connection was admitted (the first one, a resume, or a rejoin with the same id). */
  up(link: ClientLink, w: Welcome): void {
    if (this.torn !== undefined) return
    this.link = link
    this.lastLink = link
    this.token = w.resumeToken
    this.budget = this.budgetOf(w)
    this.heartbeatIntervalMs = w.heartbeatIntervalMs
    this.heard = true
    if (this.admissions++ > 0) {
      if (w.resumed) this.counters.resumes++
      else this.counters.rejoins++
    }
    this.peers.set(this.rosterOf(w.roster))
    this.state.set(SeamState.Woven())
  }

  /** The current connection is gone; a resume is about to be tried. */
  down(): void {
    this.link = undefined
    if (this.torn === undefined) this.state.set(SeamState.Weaving())
  }

  /** One frame from the host, in arrival order. */
  onFrame(message: WireMessage): void {
    this.heard = true
    if (this.torn !== undefined) return
    switch (message._tag) {
      case "RelayFrom":
        return this.deliver(message.from as PeerId, message.payload)
      case "Roster":
        return this.peers.set(this.rosterOf(message.peers))
      case "Ping":
        this.link?.send(encodeMessage({ _tag: "Pong", nonce: message.nonce }))
        return
      case "Pong":
      case "Reject":
        // A Reject mid-session precedes the close that carries the same code.
        return
      case "Hello":
      case "Welcome":
      case "RelayTo":
      case "Broadcast":
      case "Bye":
        this.counters.droppedBadFrames++
        return
    }
  }

  private deliver(from: PeerId, payload: Uint8Array): void {
    const outcome = this.inbox.tryOffer(from, payload)
    switch (outcome) {
      case "accepted":
      case "accepted-dropped-oldest":
      case "closed":
        return
      case "full":
        // `Reliable` cannot make the host wait without stalling every other sender on this socket,
        // so it queues past the per-link capacity up to `maxBufferedFrames`, then tears visibly.
        if (this.inbox.size < this.maxBufferedFrames) {
          this.inbox.forceOffer(from, payload)
          return
        }
        return this.overflow(from)
      case "overflow":
        return this.overflow(from)
    }
  }

  private overflow(from: PeerId): void {
    const capacity = this.policy._tag === "Reliable" ? this.maxBufferedFrames : this.policy.capacity
    this.tear(CloseReason.Error({ cause: new FrameOverflow({ from, to: this.selfId, capacity }) }), true)
  }

  /**
   * Tears the session (first reason wins). `sayBye` sends a `Bye` so the host frees the slot at
   * once instead of keeping it for the reconnect window.
   */
  tear(reason: CloseReason, sayBye: boolean): void {
    if (this.torn !== undefined) return
    this.torn = reason
    const link = this.link
    this.link = undefined
    if (link !== undefined) {
      if (sayBye) link.send(encodeMessage({ _tag: "Bye" }))
      link.close(1000, "bye")
    }
    this.inbox.close()
    this.peers.set(new Set([this.selfId]))
    this.state.set(SeamState.Torn({ reason }))
  }

  /** `sendTo` as a synchronous step: `undefined` when done, else the failure. */
  trySend(peer: PeerId, payload: Uint8Array): SendError | undefined {
    if (this.torn !== undefined) return new SeamTorn({ reason: this.torn })
    if (peer === this.selfId) throw new Error(`sendTo(${peer}): a seam cannot send to itself`)
    if (payload.byteLength > this.budget) {
      return new PayloadTooLarge({ payloadBytes: payload.byteLength, budgetBytes: this.budget, reservedBytes: 0 })
    }
    if (!this.peers.value.has(peer)) return new PeerNotConnected({ peer })
    const link = this.link
    if (link === undefined || !link.send(encodeRelayWith(MessageType.RelayTo, this.idBytes(peer), payload))) {
      this.counters.droppedWhileDown++
    }
    return undefined
  }

  /** Encoded peer ids of recent targets (ids are UTF-8 encoded once, not per frame). */
  private readonly ids = new Map<PeerId, Uint8Array>()

  private idBytes(peer: PeerId): Uint8Array {
    let bytes = this.ids.get(peer)
    if (bytes === undefined) {
      // Bounded: a long-lived seam addressing many short-lived peers starts over now and then.
      if (this.ids.size >= 1024) this.ids.clear()
      bytes = peerIdBytes(peer)
      this.ids.set(peer, bytes)
    }
    return bytes
  }

  broadcast(payload: Uint8Array): SeamTorn | undefined {
    if (this.torn !== undefined) return new SeamTorn({ reason: this.torn })
    if (payload.byteLength > this.budget) {
      this.counters.droppedOverBudget++
      return undefined
    }
    const link = this.link
    if (link === undefined || !link.send(encodeBroadcast(payload))) this.counters.droppedWhileDown++
    return undefined
  }

  /** The public `Seam` (with the synchronous fast path Raft's transport adapter looks for). */
  seam(): SeamShape {
    const fastPath: SeamFastPath = {
      trySend: (peer, payload) => {
        const error = this.trySend(peer, payload)
        return error === undefined ? undefined : Effect.fail(error)
      },
      collect: (wake) => this.inbox.tap(wake)
    }
    const self = this
    const seam: SeamShape & { readonly [SEAM_FAST_PATH]: SeamFastPath } = {
      [SEAM_FAST_PATH]: fastPath,
      selfId: this.selfId,
      peers: this.peers,
      state: this.state,
      get maxPayloadBytes() {
        return Option.some(self.budget)
      },
      incoming: this.inbox.stream,
      sendTo: (peer, payload) =>
        Effect.suspend(() => {
          const error = this.trySend(peer, payload)
          return error === undefined ? Effect.void : Effect.fail(error)
        }),
      broadcast: (payload) =>
        Effect.suspend(() => {
          const error = this.broadcast(payload)
          return error === undefined ? Effect.void : Effect.fail(error)
        }),
      close: (reason = CloseReason.Normal()) => Effect.sync(() => this.tear(reason, true))
    }
    return seam
  }
}
