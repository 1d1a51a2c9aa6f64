#!/usr/bin/env node
/**
 * The `kuilt` executable (package.json `bin`). Runs the command and exits with its code (see
 * `src/cli/errors.ts`). SIGINT and SIGTERM interrupt it: servers close every node and file first,
 * then it exits 0.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Exit } from "effect"
import { run } from "./Cli.js"

NodeRuntime.runMain(run(process.argv), {
  disableErrorReporting: true,
  teardown: (exit) => {
    // Exit at once: idle keep-alive sockets of the HTTP client would otherwise hold the process.
    process.exit(Exit.isSuccess(exit) ? (exit.value as number) : Cause.isInterruptedOnly(exit.cause) ? 0 : 1)
  }
})
