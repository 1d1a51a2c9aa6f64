/**
 * The dashboard's game demo: tic-tac-toe agreed through the game facade (`src/game`). Two players,
 * X and O, are two Raft peers of one game session — X hosts (`gameHost`), O joins (`gameJoin`) —
 * over an in-memory fabric inside the server; each browser tab takes a seat and drives that
 * peer: its moves are proposed through the seat's `TurnSequencer`, and it shows the board as its
 * own peer folded it from the committed moves. The rules run on both peers over the same log, so
 * a move out of turn or on a taken cell is refused identically on both.
 *
 * The session starts on first use and lives as long as the server. `New game` commits a reset.
 */
import { Effect, Schema, Stream, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import { InMemoryLoom } from "../../layers/seam/inmemory/InMemoryLoom.js"
import { gameHost } from "../game/gameHost.js"
import { gameJoin } from "../game/gameJoin.js"
import * as TurnSequencer from "../game/TurnSequencer.js"

export const Seat = Schema.Literal("X", "O")
export type Seat = typeof Seat.Type

const Action = Schema.Union(
  Schema.TaggedStruct("Move", { mark: Seat, cell: Schema.Number.pipe(Schema.int(), Schema.between(0, 8)) }),
  Schema.TaggedStruct("NewGame", {})
)
type Action = typeof Action.Type

/** One peer's view of the game. */
export interface Board {
  readonly cells: ReadonlyArray<Seat | null>
  readonly next: Seat
  readonly winner: Seat | "draw" | null
  /** Log index of the last committed action this peer folded. */
  readonly applied: number
  /** The last few outcomes ("#7 X@4", "#8 O@4 refused: cell taken"). */
  readonly log: ReadonlyArray<string>
  /** Games finished so far. */
  readonly games: number
}

const LINES = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]] as const

export const emptyBoard: Board = { cells: Array<Seat | null>(9).fill(null), next: "X", winner: null, applied: 0, log: [], games: 0 }

const note = (b: Board, line: string): ReadonlyArray<string> => [...b.log, line].slice(-8)

/** The rules: a pure function of the board and the next committed action. */
export const play = (b: Board, index: number, a: Action): Board => {
  if (a._tag === "NewGame") {
    return { ...emptyBoard, applied: index, games: b.games + (b.winner === null ? 0 : 1), log: note(b, `#${index} new game`) }
  }
  const refuse = (why: string): Board => ({ ...b, applied: index, log: note(b, `#${index} ${a.mark}@${a.cell} refused: ${why}`) })
  if (b.winner !== null) return refuse("the game is over")
  if (a.mark !== b.next) return refuse(`it is ${b.next}'s turn`)
  if (b.cells[a.cell] !== null) return refuse("cell taken")
  const cells = b.cells.map((c, i) => (i === a.cell ? a.mark : c))
  const won = LINES.some((l) => l.every((i) => cells[i] === a.mark))
  const winner = won ? a.mark : cells.every((c) => c !== null) ? "draw" : null
  return { ...b, cells, next: a.mark === "X" ? "O" : "X", winner, applied: index, log: note(b, `#${index} ${a.mark}@${a.cell}`) }
}

export interface GameShape {
  /** The board as `seat`'s peer folded it, now and on every change. */
  readonly boards: (seat: Seat) => Stream.Stream<Board>
  /** Proposes a move for `seat` at `cell`; returns the board once the seat's peer applied it. */
  readonly move: (seat: Seat, cell: number) => Effect.Effect<Board, GameUnavailable>
  /** Commits a reset of the board. */
  readonly newGame: (seat: Seat) => Effect.Effect<Board, GameUnavailable>
}

/** The game session could not take the action (its peer stopped, or the proposal was lost). */
export class GameUnavailable extends Schema.TaggedError<GameUnavailable>()("GameUnavailable", { message: Schema.String }) {}

/** Starts the two peers of the game in the caller's scope. */
export const make: Effect.Effect<GameShape, GameUnavailable, Scope.Scope> = Effect.gen(function*() {
  const loom = yield* InMemoryLoom.make()
  const xSeam = yield* loom.host({ sessionName: "tic-tac-toe", peerKey: "X" }).pipe(
    Effect.mapError((e) => new GameUnavailable({ message: `the game fabric: ${e.reason}` }))
  )
  const oSeam = yield* loom.join({ sessionName: "tic-tac-toe", peerKey: "O" }).pipe(
    Effect.mapError((e) => new GameUnavailable({ message: `the game fabric: ${e.reason}` }))
  )
  const [xSession, oSession] = yield* Effect.all([gameHost(xSeam, { peerCount: 2 }), gameJoin(oSeam)], { concurrency: "unbounded" }).pipe(
    Effect.mapError((e) => new GameUnavailable({ message: `the game session did not start: ${e.message}` }))
  )
  const seat = (session: typeof xSession) =>
    Effect.gen(function*() {
      const seq = TurnSequencer.make(session.node, Action)
      const board = yield* SubscriptionRef.make(emptyBoard)
      yield* seq.events.pipe(
        Stream.runForEach((e) =>
          e._tag === "Committed"
            ? SubscriptionRef.update(board, (b) => play(b, e.indexed.index, e.indexed.action))
            : SubscriptionRef.set(board, emptyBoard)
        ),
        Effect.forkScoped
      )
      return { seq, board }
    })
  const seats = { X: yield* seat(xSession), O: yield* seat(oSession) }
  const propose = (s: Seat, action: Action) =>
    Effect.gen(function*() {
      const { seq, board } = seats[s]
      const committed = yield* seq.propose(action).pipe(
        Effect.timeout("5 seconds"),
        Effect.mapError((e) => new GameUnavailable({ message: `the move was not committed: ${e.message}` }))
      )
      return yield* board.changes.pipe(
        Stream.filter((b) => b.applied >= committed.index),
        Stream.runHead,
        Effect.flatMap((b) => (b._tag === "Some" ? Effect.succeed(b.value) : board.get))
      )
    })
  return {
    boards: (s) => seats[s].board.changes,
    move: (s, cell) => propose(s, { _tag: "Move", mark: s, cell }),
    newGame: (s) => propose(s, { _tag: "NewGame" })
  }
})
