/**
 * Admission (`host` / `join`) and the `Seam` each admitted member gets.
 *
 * Every effectful preparation (minting an id, making the refs) happens before the admission
 * checks, and the checks and the registration run in one synchronous step, so two concurrent
 * weaves can never both pass a "room full" or "duplicate id" check.
 */
import { Effect, Either, Option, Subscribable, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import type { Pattern, Tag } from "../../../services/seam/Pattern.js"
import { DEFAULT_MAX_PEERS } from "../../../services/seam/Pattern.js"
import { freshPeerId, PeerId } from "../../../services/seam/PeerId.js"
import type { SeamShape } from "../../../services/seam/Seam.js"
import { WeaveFailed } from "../../../services/seam/SeamErrors.js"
import { CloseReason, SeamState } from "../../../services/seam/SeamState.js"
import { Inbox, SEAM_FAST_PATH } from "../../../src/seam/Inbox.js"
import type { SeamFastPath } from "../../../src/seam/Inbox.js"
import type { Mesh } from "./Mesh.js"
import { Member } from "./Mesh.js"

/** What a weave asks for: hosting a `Pattern` or joining with a `Tag`. */
export type WeaveRequest =
  | { readonly _tag: "Host"; readonly pattern: Pattern }
  | { readonly _tag: "Join"; readonly tag: Tag }

/**
 * Weaves a seam on `mesh`, bound to the caller's scope (closing the scope closes the seam with
 * `Normal`). Fails with `WeaveFailed` when admission is refused; see `admissionError`.
 */
export const weave = (mesh: Mesh, request: WeaveRequest): Effect.Effect<SeamShape, WeaveFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.map(admit(mesh, request), (member) => seamOf(mesh, member)),
    (seam) => seam.close(CloseReason.Normal())
  )

const admit = (mesh: Mesh, request: WeaveRequest): Effect.Effect<Member, WeaveFailed> =>
  Effect.gen(function*() {
    const peerKey = request._tag === "Host" ? request.pattern.peerKey : request.tag.peerKey
    let id: PeerId
    if (peerKey !== undefined) {
      const valid = PeerId.either(peerKey)
      if (Either.isLeft(valid)) return yield* new WeaveFailed({ reason: `invalid peerKey: ${valid.left[0]?.message}` })
      id = valid.right
    } else {
      // Minted from the loom's Random, so a seeded loom mints the same ids on every run.
      id = yield* Effect.withRandom(freshPeerId, mesh.random)
      while (mesh.members.has(id)) id = yield* Effect.withRandom(freshPeerId, mesh.random)
    }
    const peers = yield* SubscriptionRef.make<ReadonlySet<PeerId>>(new Set([id]))
    const state = yield* SubscriptionRef.make<SeamState>(SeamState.Woven())
    // From here to the registration nothing yields.
    const refused = admissionError(mesh, request, id)
    if (refused !== undefined) return yield* new WeaveFailed({ reason: refused })
    const member = new Member(id, new Inbox(id, mesh.policy), peers, state)
    if (request._tag === "Host") {
      const p = request.pattern
      mesh.session = { name: p.sessionName, maxPeers: p.maxPeers ?? DEFAULT_MAX_PEERS, roomKey: p.roomKey }
      mesh.host = member
    }
    mesh.members.set(id, member)
    yield* mesh.publishPeers([member])
    return member
  })

/** Why `request` may not be admitted right now, or `undefined` when it may. */
function admissionError(mesh: Mesh, request: WeaveRequest, id: PeerId): string | undefined {
  if (mesh.closed) return "the loom is closed"
  const live = mesh.members.size
  switch (request._tag) {
    case "Host": {
      const p = request.pattern
      if (mesh.host !== undefined) return `session "${mesh.session?.name}" is already hosted by ${mesh.host.selfId}`
      if (live > 0 && mesh.session !== undefined && mesh.session.name !== p.sessionName) {
        return `this loom weaves session "${mesh.session.name}" and it still has live peers; cannot host "${p.sessionName}"`
      }
      const maxPeers = p.maxPeers ?? DEFAULT_MAX_PEERS
      if (!Number.isSafeInteger(maxPeers) || maxPeers < 1) return `maxPeers must be a positive integer, got ${maxPeers}`
      if (live >= maxPeers) return `session "${p.sessionName}" is full (${live} of ${maxPeers} peers)`
      break
    }
    case "Join": {
      const t = request.tag
      const session = mesh.session
      if (session === undefined) return `no session has been hosted on this loom (asked for "${t.sessionName}")`
      if (session.name !== t.sessionName) return `no session named "${t.sessionName}" (this loom weaves "${session.name}")`
      if (session.roomKey !== undefined && session.roomKey !== t.roomKey) {
        return `wrong room key for session "${session.name}"`
      }
      if (live >= session.maxPeers) return `session "${session.name}" is full (${live} of ${session.maxPeers} peers)`
      break
    }
  }
  if (mesh.members.has(id)) return `peer id ${id} is already live in session "${mesh.session?.name}"`
  return undefined
}

/** The public face of a member. The refs are exposed read-only (`Subscribable`). */
function seamOf(mesh: Mesh, member: Member): SeamShape {
  const budget = mesh.maxPayloadBytes === undefined ? Option.none() : Option.some(mesh.maxPayloadBytes)
  const fastPath: SeamFastPath = {
    trySend: (peer, payload) => mesh.trySend(member, peer, payload),
    collect: (wake) => member.inbox.tap(wake)
  }
  const seam: SeamShape & { readonly [SEAM_FAST_PATH]: SeamFastPath } = {
    [SEAM_FAST_PATH]: fastPath,
    selfId: member.selfId,
    peers: Subscribable.make({ get: SubscriptionRef.get(member.peers), changes: member.peers.changes }),
    state: Subscribable.make({ get: SubscriptionRef.get(member.state), changes: member.state.changes }),
    maxPayloadBytes: budget,
    incoming: member.inbox.stream,
    sendTo: (peer, payload) => mesh.sendTo(member, peer, payload),
    broadcast: (payload) => mesh.broadcast(member, payload),
    close: (reason = CloseReason.Normal()) => Effect.suspend(() => mesh.tear(member, reason) ?? Effect.void)
  }
  return seam
}
