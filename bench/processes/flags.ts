/** Command-line flags of `npm run bench:processes` (see `HELP`). */
import { parseArgs } from "node:util"
import type { StorageKind } from "./nodeChild.js"

export type ProposerKind = "leader" | "follower"

export interface Flags {
  readonly storages: ReadonlyArray<StorageKind>
  readonly proposers: ReadonlyArray<ProposerKind>
  readonly inflight: ReadonlyArray<number>
  readonly durationS: number
  readonly rounds: number
  readonly trials: number
  readonly profile: boolean
  /** Phases to profile, as `storage.proposer.inflight`. */
  readonly profilePhases: ReadonlyArray<string>
  readonly profileDir: string | undefined
  readonly compactEveryMs: number
  readonly baselines: boolean
}

export const HELP = `npm run bench:processes -- [flags]

Three Raft voter processes and one WebSocketHost process on loopback (default RaftConfig), with
proposals driven inside the leader's or a follower's process; same-run baselines: raw \`ws\` through
a relay process, and one SQLite WAL commit (synchronous=FULL) on this disk. JSON lines on stdout,
a table at the end; children's output goes to stderr.

  --storage mem|sqlite|both        storage of the voters (default both)
  --proposer leader|follower|both  where proposals are made (default both)
  --inflight 1,64,256,1024         proposals in flight, one phase each (default 1,64,256,1024)
  --duration S                     seconds per phase (default 5; the issue's runs use 60)
  --rounds N                       run every phase N times, each on a fresh cluster (default 1)
  --trials N                       re-election trials after SIGKILL of the leader, per storage
                                   (default 10; 0 skips them)
  --compact-ms MS                  voters publish a snapshot every MS ms, as an application
                                   would (default 0: never, the log grows with the run)
  --profile                        CPU-profile (--cpu-prof) every process of some phases and
                                   summarise each voter's profile: top self time, and what ran
                                   during each stall of its event loop
  --profile-phases LIST            which phases (default mem.leader.256,mem.follower.256)
  --profile-dir DIR                where profiles go (default: a new temp directory, kept)
  --no-baselines                   skip the ws relay and WAL baselines
  --help                           this text
`

const positive = (name: string, s: string): number => {
  const n = Number(s)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number ≥ 0, got "${s}"`)
  return n
}

const both = <A extends string>(name: string, value: string, options: ReadonlyArray<A>): ReadonlyArray<A> => {
  if (value === "both") return options
  if ((options as ReadonlyArray<string>).includes(value)) return [value as A]
  throw new Error(`${name}: expected ${options.join("|")}|both, got "${value}"`)
}

/** Parses `argv`; `undefined` when `--help` was asked. Throws on a bad flag. */
export const parseFlags = (argv: ReadonlyArray<string>): Flags | undefined => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      storage: { type: "string", default: "both" },
      proposer: { type: "string", default: "both" },
      inflight: { type: "string", default: "1,64,256,1024" },
      duration: { type: "string", default: "5" },
      rounds: { type: "string", default: "1" },
      trials: { type: "string", default: "10" },
      "compact-ms": { type: "string", default: "0" },
      profile: { type: "boolean", default: false },
      "profile-phases": { type: "string", default: "mem.leader.256,mem.follower.256" },
      "profile-dir": { type: "string" },
      "no-baselines": { type: "boolean", default: false },
      help: { type: "boolean", default: false }
    },
    strict: true
  })
  if (values.help) return undefined
  const inflight = values.inflight.split(",").map((s) => positive("--inflight", s.trim()))
  if (inflight.some((k) => !Number.isSafeInteger(k) || k < 1)) throw new Error("--inflight: whole numbers ≥ 1")
  const durationS = positive("--duration", values.duration)
  if (durationS <= 0) throw new Error("--duration: must be above 0")
  return {
    storages: both("--storage", values.storage, ["mem", "sqlite"] as const),
    proposers: both("--proposer", values.proposer, ["leader", "follower"] as const),
    inflight,
    durationS,
    rounds: Math.max(1, Math.floor(positive("--rounds", values.rounds))),
    trials: Math.floor(positive("--trials", values.trials)),
    profile: values.profile,
    profilePhases: values["profile-phases"].split(",").map((x) => x.trim()),
    profileDir: values["profile-dir"],
    compactEveryMs: Math.floor(positive("--compact-ms", values["compact-ms"])),
    baselines: !values["no-baselines"]
  }
}
