/**
 * `npm run example:tictactoe`: two players agree on a game of tic-tac-toe through the game facade.
 *
 * alice hosts (`gameHost`, two seats), bob joins (`gameJoin`); each proposes its own moves through
 * a `TurnSequencer` and folds the committed moves into its own board. The rules run on every
 * peer over the same committed sequence, so an illegal move (out of turn, or on a taken cell) is
 * rejected identically everywhere — no peer is trusted to referee. Real clock, in-memory fabric.
 */
import { Effect, Schema, Stream, SubscriptionRef } from "effect"
import type { GameSessionShape, SeamShape } from "../src/index.js"
import { gameHost, gameJoin, InMemoryLoom, TurnSequencer } from "../src/index.js"

const Move = Schema.Struct({ mark: Schema.Literal("X", "O"), cell: Schema.Number.pipe(Schema.int(), Schema.between(0, 8)) })
type Move = typeof Move.Type

interface Board {
  readonly cells: ReadonlyArray<"X" | "O" | null>
  readonly next: "X" | "O"
  readonly winner: "X" | "O" | null
  readonly applied: number
  readonly log: ReadonlyArray<string>
}

const empty: Board = { cells: Array(9).fill(null), next: "X", winner: null, applied: 0, log: [] }
const lines = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]]

/** The rules: a pure function of the board and the next committed move. */
const play = (b: Board, index: number, m: Move): Board => {
  const refuse = (why: string) => ({ ...b, applied: index, log: [...b.log, `#${index} ${m.mark}@${m.cell} refused: ${why}`] })
  if (b.winner !== null) return refuse("the game is over")
  if (m.mark !== b.next) return refuse(`it is ${b.next}'s turn`)
  if (b.cells[m.cell] !== null) return refuse("cell taken")
  const cells = b.cells.map((c, i) => (i === m.cell ? m.mark : c))
  const winner = lines.some((l) => l.every((i) => cells[i] === m.mark)) ? m.mark : null
  return { cells, next: m.mark === "X" ? "O" : "X", winner, applied: index, log: [...b.log, `#${index} ${m.mark}@${m.cell}`] }
}

const render = (b: Board) =>
  [0, 3, 6].map((r) => "    " + [0, 1, 2].map((c) => b.cells[r + c] ?? ".").join(" ")).join("\n")

/** One player: a session, its sequencer and its own board, folded from the committed moves. */
const player = (name: string, session: GameSessionShape) =>
  Effect.gen(function*() {
    const seq = TurnSequencer.make(session.node, Move)
    const board = yield* SubscriptionRef.make(empty)
    yield* seq.events.pipe(
      Stream.runForEach((e) =>
        e._tag === "Committed"
          ? SubscriptionRef.update(board, (b) => play(b, e.indexed.index, e.indexed.action))
          : SubscriptionRef.set(board, empty)
      ),
      Effect.forkScoped
    )
    return { name, seq, board }
  })

const program = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make()
  const aliceSeam: SeamShape = yield* loom.host({ sessionName: "tic-tac-toe", peerKey: "alice" })
  const bobSeam: SeamShape = yield* loom.join({ sessionName: "tic-tac-toe", peerKey: "bob" })
  // Both calls wait for each other: the host until its two seats are taken, the joiner for its seat.
  const [aliceSession, bobSession] = yield* Effect.all(
    [gameHost(aliceSeam, { peerCount: 2 }), gameJoin(bobSeam)],
    { concurrency: "unbounded" }
  )
  const voters = [...(yield* aliceSession.node.membership.get).voters].sort()
  console.log(`alice hosts, bob joined; voters: ${voters.join(", ")}`)
  const alice = yield* player("alice", aliceSession)
  const bob = yield* player("bob", bobSession)
  const byMark = { X: alice, O: bob }

  // The script: bob tries to move out of turn once, alice once on a taken cell.
  const script: ReadonlyArray<Move> = [
    { mark: "X", cell: 4 },
    { mark: "O", cell: 0 },
    { mark: "O", cell: 1 },
    { mark: "X", cell: 2 },
    { mark: "O", cell: 6 },
    { mark: "X", cell: 0 },
    { mark: "X", cell: 3 },
    { mark: "O", cell: 8 },
    { mark: "X", cell: 5 }
  ]
  for (const move of script) {
    const who = byMark[move.mark]
    const committed = yield* who.seq.propose(move)
    // Wait until both boards have folded it, then show bob's view of the outcome.
    for (const p of [alice, bob]) {
      yield* p.board.changes.pipe(Stream.takeUntil((b) => b.applied >= committed.index), Stream.runDrain)
    }
    const b = yield* bob.board.get
    console.log(`${who.name} plays ${move.mark} at ${move.cell} -> ${b.log[b.log.length - 1]}`)
  }
  const [a, b] = [yield* alice.board.get, yield* bob.board.get]
  console.log(render(b))
  console.log(`winner: ${b.winner ?? "none"}`)
  console.log(`alice and bob hold the same board: ${JSON.stringify(a) === JSON.stringify(b)}`)
  yield* bobSession.close
  yield* aliceSession.close
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.timeout("20 seconds"))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
