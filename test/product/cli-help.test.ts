/**
 * `kuilt --help` and every subcommand's `--help`: each exits 0 and prints a usage line naming the
 * command and its description. The subcommands run in this process through the command's own
 * `run` (cheap); the bundled executable (the bin's entry, `src/cli/main.ts`) is run once as a
 * process, so the shebang entry, argument handling and exit code are checked as a user gets them.
 * Bad flags exit with the usage code (2).
 */
import { afterEach, describe, expect, it, vi } from "vitest"
import { Effect } from "effect"
import { run } from "../../src/cli/Cli.js"
import { bundleCli, kuilt, showRun } from "./support.js"

/** Every subcommand path, with a word its help must contain. */
const COMMANDS: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
  [["serve"], /one voter in this process/i],
  [["up"], /local cluster/i],
  [["cluster"], /m voters in this process/i],
  [["put"], /set a key/i],
  [["get"], /print a key's value/i],
  [["cas"], /compare/i],
  [["del"], /remove a key/i],
  [["watch"], /print changes/i],
  [["status"], /role, term, commit/i],
  [["members"], /membership/i],
  [["members", "list"], /voters and learners/i],
  [["members", "add"], /learner/i],
  [["members", "promote"], /voter/i],
  [["members", "remove"], /remove a node/i],
  [["transfer"], /leadership/i]
]

/** Runs the command in this process, capturing what it prints. */
const inProcess = async (args: ReadonlyArray<string>) => {
  const out: Array<string> = []
  const capture = (...xs: Array<unknown>) => void out.push(xs.map(String).join(" "))
  vi.spyOn(console, "log").mockImplementation(capture)
  vi.spyOn(console, "info").mockImplementation(capture)
  const code = await Effect.runPromise(run(["node", "kuilt", ...args]))
  vi.restoreAllMocks()
  return { code, text: out.join("\n") }
}

afterEach(() => void vi.restoreAllMocks())

describe("kuilt --help", () => {
  it.each(COMMANDS)("kuilt %j --help", async (path, description) => {
    const r = await inProcess([...path, "--help"])
    expect(r.code, r.text).toBe(0)
    // @effect/cli names the leaf command in a subcommand's usage line.
    expect(r.text).toMatch(new RegExp(`^\\$ ${path[path.length - 1]}\\b`, "m"))
    expect(r.text).toMatch(description)
  })

  it("the executable prints the top-level help and exits 0; a bad flag exits 2", async () => {
    const cli = await bundleCli("kuilt-help-test")
    const help = await kuilt(cli, ["--help"])
    expect(help.code, showRun(["--help"], help)).toBe(0)
    for (const sub of ["serve", "up", "cluster", "put", "get", "watch", "status", "members", "transfer"]) expect(help.stdout).toMatch(new RegExp(`- ${sub}\\b`))
    const bad = await kuilt(cli, ["put", "--no-such-flag", "k", "v"])
    expect(bad.code, showRun(["put", "--no-such-flag"], bad)).toBe(2)
  }, 60_000)
})
