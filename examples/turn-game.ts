/**
 * `npm run example:turn-game`: four players race to 12 points, taking turns in an order Raft
 * makes everyone agree on, and chat beside the game over an app channel of the same connection.
 *
 * alice hosts (`gameHost`, four seats) and seats bob, carol and dave (`gameJoin`) one at a time.
 * Each turn the player whose turn it is proposes its roll; every peer folds the committed rolls
 * with the same rules (a roll out of turn is ignored everywhere). After each roll the roller says
 * something on the "chat" app channel — best effort traffic, not part of the log.
 * Real clock, in-memory fabric; dice come from a seeded `Random`, so every run plays the same game.
 */
import { Effect, Queue, Random, Schema, Stream, SubscriptionRef } from "effect"
import type { GameSessionShape } from "../src/index.js"
import { gameHost, gameJoin, InMemoryLoom, TurnSequencer } from "../src/index.js"

const names = ["alice", "bob", "carol", "dave"] as const
const TARGET = 12

const Roll = Schema.Struct({ player: Schema.Literal(...names), pips: Schema.Number.pipe(Schema.int(), Schema.between(1, 6)) })
type Roll = typeof Roll.Type

interface Race {
  readonly scores: Readonly<Record<string, number>>
  readonly turn: number
  readonly winner: string | null
  readonly applied: number
}
const start: Race = { scores: { alice: 0, bob: 0, carol: 0, dave: 0 }, turn: 0, winner: null, applied: 0 }

const play = (r: Race, index: number, roll: Roll): Race => {
  if (r.winner !== null || roll.player !== names[r.turn % names.length]) return { ...r, applied: index }
  const score = r.scores[roll.player]! + roll.pips
  return {
    scores: { ...r.scores, [roll.player]: score },
    turn: r.turn + 1,
    winner: score >= TARGET ? roll.player : null,
    applied: index
  }
}

const program = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make()
  const seams = yield* Effect.forEach(names, (name, i) =>
    i === 0
      ? loom.host({ sessionName: "race", peerKey: name })
      : loom.join({ sessionName: "race", peerKey: name }))
  const sessions: ReadonlyArray<GameSessionShape> = yield* Effect.all(
    [gameHost(seams[0]!, { peerCount: 4 }), ...seams.slice(1).map((seam) => gameJoin(seam))],
    { concurrency: "unbounded" }
  )
  const membership = yield* sessions[0]!.node.membership.get
  console.log(`alice hosts; seated one at a time: ${[...membership.voters].sort().join(", ")}`)

  const players = yield* Effect.forEach(sessions, (session, i) =>
    Effect.gen(function*() {
      const seq = TurnSequencer.make(session.node, Roll)
      const race = yield* SubscriptionRef.make(start)
      yield* seq.events.pipe(
        Stream.runForEach((e) =>
          e._tag === "Committed" ? SubscriptionRef.update(race, (r) => play(r, e.indexed.index, e.indexed.action)) : Effect.void
        ),
        Effect.forkScoped
      )
      const chat = yield* session.appChannel("chat")
      return { name: names[i]!, seq, race, chat }
    }))

  // alice prints the chat she hears, in the order it reaches her.
  const heard = yield* Queue.unbounded<string>()
  yield* players[0]!.chat.incoming.pipe(
    Stream.runForEach((sw) => Queue.offer(heard, `  [chat] ${sw.sender}: ${sw.decodeToString()}`)),
    Effect.forkScoped
  )
  const flushChat = Effect.flatMap(Queue.takeAll(heard), (lines) => Effect.sync(() => Array.from(lines, (l) => console.log(l))))

  const dice = Random.make("kuilt turn game")
  const alice = players[0]!
  for (;;) {
    const race = yield* alice.race.get
    if (race.winner !== null) break
    const roller = players[race.turn % players.length]!
    const pips = yield* Effect.withRandom(Random.nextIntBetween(1, 7), dice)
    const committed = yield* roller.seq.propose({ player: roller.name, pips })
    for (const p of players) yield* p.race.changes.pipe(Stream.takeUntil((r) => r.applied >= committed.index), Stream.runDrain)
    const after = yield* alice.race.get
    console.log(`#${committed.index} ${roller.name} rolls ${pips} -> ${roller.name} has ${after.scores[roller.name]}`)
    const line = after.winner === roller.name ? `${TARGET} reached, gg!` : pips === 6 ? "a six!" : `rolled ${pips}`
    if (roller.name !== "alice") {
      yield* roller.chat.broadcast(new TextEncoder().encode(line))
      // Chat is best effort and unordered with the log; wait briefly so the transcript reads in order.
      yield* Effect.sleep("20 millis")
      yield* flushChat
    }
  }
  // bob rolls out of turn: committed, and ignored by every peer's rules.
  const cheat = yield* players[1]!.seq.propose({ player: "bob", pips: 6 })
  for (const p of players) yield* p.race.changes.pipe(Stream.takeUntil((r) => r.applied >= cheat.index), Stream.runDrain)
  const final = yield* Effect.forEach(players, (p) => p.race.get)
  console.log(`#${cheat.index} bob rolls 6 after the end -> ignored; bob still has ${final[0]!.scores["bob"]}`)
  console.log(`winner: ${final[0]!.winner}; scores: ${JSON.stringify(final[0]!.scores)}`)
  const same = final.every((r) => JSON.stringify(r) === JSON.stringify(final[0]))
  console.log(`all four players hold the same race: ${same}`)
  yield* Effect.forEach(sessions, (s) => s.close, { discard: true })
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.timeout("30 seconds"))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
