/**
 * Summarises a `--cpu-prof` profile written by `npm run bench:processes -- --profile`:
 * `tsx bench/processes/profileCli.ts FILE [FROM_US TO_US]` (the window in the profiled process's
 * hrtime µs, as the phase's `proc.profile.*` line used; default: the whole profile). Prints JSON.
 */
import { readFileSync } from "node:fs"
import { summarizeProfile } from "./profile.js"

const [file, from, to] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write("usage: tsx bench/processes/profileCli.ts FILE [FROM_US TO_US]\n")
  process.exit(2)
}
const whole = JSON.parse(readFileSync(file, "utf8")) as { startTime: number; endTime: number }
const summary = summarizeProfile(file, from === undefined ? whole.startTime : Number(from), to === undefined ? whole.endTime : Number(to))
process.stdout.write(JSON.stringify(summary, null, 2) + "\n")
