/**
 * Admission and learner GC: who the voter core replicates to.
 *
 * Every server watches its client room. A client that connects is told who the server and the
 * voters are (`Attached`), announced to the other servers (`Attach`), and, unless it is a learner
 * already, asked for: the server sends `Admit` to the leader (or hands it to its own voter when
 * that one leads). A client that goes away is announced too (`Detach`); a server whose link comes
 * back up sends its whole list (`Roster`). Once the client shows in the membership, its server
 * tells it (`Admission { admitted }`).
 *
 * The leader's server does the membership changes, one at a time in one fiber, so admissions and
 * removals never race: every `tick` it takes the clients asked for (all of them in one change:
 * many clients arriving together cost one config entry), admits as many as the learner bound
 * (`maxLearners`) leaves room for, refuses the rest (`Refuse` to their servers, `Admission {
 * admitted: false }` to the clients), and removes the learners attached nowhere (no server holds
 * them, or only servers whose link is down) for longer than `learnerGrace`. A new leader starts
 * its grace clocks afresh, so no learner is removed sooner than the grace after it was last seen.
 */
import { Clock, Duration, Effect, Metric, MetricLabel, Option } from "effect"
import type { Scope } from "effect"
import { ClusterConfig } from "../../services/raft/ClusterConfig.js"
import type { NodeId } from "../../services/raft/NodeId.js"
import type { RaftNodeShape } from "../../services/raft/RaftNode.js"
import { changeMembershipWithRetry } from "../raft/changeMembershipWithRetry.js"
import type { MeshControl, Router } from "./Router.js"

/** Learners admitted by this server's leader voter. */
export const learnersAdmitted = Metric.counter("kuilt_cluster_learners_admitted_total", { incremental: true })
/** Learners removed after their grace period. */
export const learnersRemoved = Metric.counter("kuilt_cluster_learners_removed_total", { incremental: true })
/** Admissions refused at the learner bound. */
export const admissionsRefused = Metric.counter("kuilt_cluster_admissions_refused_total", { incremental: true })

export interface AdmissionOptions {
  readonly voters: ReadonlyArray<NodeId>
  readonly entry: NodeId
  readonly nodes: ReadonlyMap<NodeId, RaftNodeShape>
  readonly router: Router
  /** The clients connected to the client room now. */
  readonly connected: Effect.Effect<ReadonlySet<string>>
  readonly maxLearners: number
  readonly learnerGrace: Duration.Duration
  /** How often the loops look (and leaders batch). Default 50 ms. */
  readonly tick?: Duration.Duration
}

/** Admission's live figures (for health). */
export interface AdmissionState {
  /** Local clients told they are learners. */
  readonly admitted: number
  /** Local clients waiting for admission. */
  readonly pending: number
  /** Local clients told the cluster is full. */
  readonly refused: number
  /** Learners removed by this server's leader voter. */
  readonly removed: number
}

export interface Admission {
  /** Handles a control frame from another server (give to the router's `onControl`). */
  readonly onControl: (from: NodeId, message: MeshControl) => void
  /** Runs the loops (forever, until the scope closes). */
  readonly run: Effect.Effect<void, never, Scope.Scope>
  readonly state: () => AdmissionState
}

/** Re-ask the leader for a waiting client this often. */
const REQUEST_EVERY_MS = 200
/** Re-ask for a client the leader refused this often (learners may have been removed since). */
const REFUSED_RETRY_MS = 1_000

export const make = (options: AdmissionOptions): Admission => {
  const { router, entry } = options
  const voterSet = new Set<string>(options.voters)
  const labels = [MetricLabel.make("server", entry)]
  const told = new Map<string, { readonly admitted: boolean; readonly at: number }>()
  /** Local clients waiting for admission → when they were last asked for. */
  const pending = new Map<string, number>()
  let now = 0
  const wasReachable = new Set<string>()
  /** Leader side: client → the server that asked for it. */
  const requests = new Map<string, NodeId>()
  const absentSince = new Map<string, number>()
  let leading: NodeId | undefined
  let removed = 0
  const entryNode = options.nodes.get(entry)!

  const tellRefused = (client: string, limit: number, now: number) => {
    pending.delete(client)
    if (router.toClient(client, { _tag: "Admission", admitted: false, limit })) told.set(client, { admitted: false, at: now })
  }

  const onControl = (from: NodeId, m: MeshControl): void => {
    const a = router.attachments
    switch (m._tag) {
      case "Attach":
        return a.attach(from, m.clients)
      case "Detach":
        return a.detach(from, m.clients)
      case "Roster":
        return a.roster(from, m.clients)
      case "Admit":
        for (const c of m.clients) if (!voterSet.has(c)) requests.set(c, from)
        return
      case "Refuse":
        for (const c of m.clients) if (a.local.has(c)) tellRefused(c, m.limit, now)
        return
    }
  }

  /** This server's side: attachments, announcements, telling clients, asking the leader. */
  const reconcile = Effect.gen(function*() {
    now = yield* Clock.currentTimeMillis
    const connected = yield* options.connected
    const local = router.attachments.local
    const added: Array<string> = []
    const gone: Array<string> = []
    for (const c of connected) {
      if (c === entry || voterSet.has(c) || local.has(c)) continue
      local.add(c)
      added.push(c)
      told.delete(c)
      router.toClient(c, { _tag: "Attached", server: entry, voters: options.voters })
    }
    for (const c of local) {
      if (connected.has(c)) continue
      local.delete(c)
      gone.push(c)
      told.delete(c)
      pending.delete(c)
    }
    // Clients heard through this server (`Router`) count as here only while connected.
    router.attachments.retain(entry, connected)
    for (const v of router.remote) {
      const up = router.reachable(v)
      if (up && !wasReachable.has(v)) {
        wasReachable.add(v)
        router.toServer(v, { _tag: "Roster", clients: [...local] })
        continue
      }
      if (!up) wasReachable.delete(v)
      else {
        if (added.length > 0) router.toServer(v, { _tag: "Attach", clients: added })
        if (gone.length > 0) router.toServer(v, { _tag: "Detach", clients: gone })
      }
    }
    const membership = yield* entryNode.membership.get
    for (const c of local) {
      const t = told.get(c)
      if (membership.learners.has(c as NodeId)) {
        pending.delete(c)
        if (t === undefined || !t.admitted) {
          if (router.toClient(c, { _tag: "Admission", admitted: true, limit: options.maxLearners })) told.set(c, { admitted: true, at: now })
        }
      } else if (!pending.has(c) && (t === undefined || t.admitted || now - t.at >= REFUSED_RETRY_MS)) {
        pending.set(c, -Infinity)
      }
    }
    // New clients are asked for at once; those still waiting, again every REQUEST_EVERY_MS.
    const ask = [...pending].filter(([, at]) => now - at >= REQUEST_EVERY_MS).map(([c]) => c)
    if (ask.length === 0) return
    const leader = Option.getOrUndefined(yield* entryNode.leader.get)
    if (leader === undefined) return
    for (const c of ask) pending.set(c, now)
    if (options.nodes.has(leader)) for (const c of ask) requests.set(c, entry)
    else router.toServer(leader, { _tag: "Admit", clients: ask })
  })

  /** The leader's side: one membership change per tick for admissions and removals. */
  const lead = Effect.gen(function*() {
    let node: RaftNodeShape | undefined
    for (const n of options.nodes.values()) if ((yield* n.role.get) === "Leader") node = n
    if (node === undefined) {
      leading = undefined
      requests.clear()
      absentSince.clear()
      return
    }
    if (leading !== node.id) {
      leading = node.id
      absentSince.clear()
    }
    const at = yield* Clock.currentTimeMillis
    const m = yield* node.membership.get
    const wanted = [...requests].filter(([c]) => !m.isMember(c as NodeId))
    requests.clear()
    const room = Math.max(0, options.maxLearners - m.learners.size)
    const admit = wanted.slice(0, room).map(([c]) => c)
    const refusedBy = new Map<NodeId, Array<string>>()
    for (const [c, by] of wanted.slice(room)) refusedBy.set(by, [...(refusedBy.get(by) ?? []), c])
    for (const [by, clients] of refusedBy) {
      yield* Metric.incrementBy(admissionsRefused.pipe(Metric.taggedWithLabels(labels)), clients.length)
      if (by === entry) for (const c of clients) tellRefused(c, options.maxLearners, at)
      else router.toServer(by, { _tag: "Refuse", clients, limit: options.maxLearners })
    }
    const grace = Duration.toMillis(options.learnerGrace)
    const drop: Array<string> = []
    for (const l of m.learners) {
      if (router.attachments.present(l, router.reachable)) {
        absentSince.delete(l)
        continue
      }
      const since = absentSince.get(l) ?? at
      absentSince.set(l, since)
      if (at - since >= grace) drop.push(l)
    }
    for (const l of absentSince.keys()) if (!m.learners.has(l as NodeId)) absentSince.delete(l)
    if (admit.length === 0 && drop.length === 0) return
    const dropped = new Set(drop)
    const target = ClusterConfig.of(m.voters, [...[...m.learners].filter((l) => !dropped.has(l)), ...admit])
    const done = yield* Effect.either(changeMembershipWithRetry(node, target, { maxAttempts: 10, retryDelay: Duration.millis(50) }))
    if (done._tag === "Left") {
      yield* Effect.logDebug(`membership change for ${admit.length} admission(s), ${drop.length} removal(s) not done: ${done.left.message}`)
      return
    }
    for (const l of drop) absentSince.delete(l)
    removed += drop.length
    if (admit.length > 0) yield* Metric.incrementBy(learnersAdmitted.pipe(Metric.taggedWithLabels(labels)), admit.length)
    if (drop.length > 0) {
      yield* Metric.incrementBy(learnersRemoved.pipe(Metric.taggedWithLabels(labels)), drop.length)
      yield* Effect.logInfo(`removed ${drop.length} learner(s) gone longer than ${Duration.format(options.learnerGrace)}: ${drop.join(", ")}`)
    }
  })

  const tick = options.tick ?? Duration.millis(50)
  const every = (body: Effect.Effect<void>) =>
    Effect.forever(Effect.zipRight(body.pipe(Effect.catchAllCause((c) => Effect.logWarning("admission loop", c))), Effect.sleep(tick)))
  const run = Effect.asVoid(Effect.all([Effect.forkScoped(every(reconcile)), Effect.forkScoped(every(lead))]))

  return {
    onControl,
    run,
    state: () => {
      let admitted = 0
      let refused = 0
      for (const t of told.values()) t.admitted ? admitted++ : refused++
      return { admitted, pending: pending.size, refused, removed }
    }
  }
}
