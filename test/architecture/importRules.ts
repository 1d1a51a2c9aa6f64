/**
 * Runs the import rules of `.dependency-cruiser.cjs` (docs/ARCHITECTURE.md, "Parts") over a tree
 * with dependency-cruiser's API and lists what breaks them, one line per violation:
 * `rule: from -> to`.
 */
import { cruise } from "dependency-cruiser"
import type { ICruiseOptions, ICruiseResult, IForbiddenRuleType } from "dependency-cruiser"
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options"
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))

/** The forbidden rules of the repository's configuration. */
export const repoRules = async (): Promise<ReadonlyArray<IForbiddenRuleType>> => {
  const options = await extractDepcruiseOptions(join(repoRoot, ".dependency-cruiser.cjs"))
  return options.ruleSet?.forbidden ?? []
}

export interface RuleReport {
  /** `rule: from -> to`, sorted. */
  readonly violations: ReadonlyArray<string>
  readonly modules: number
  /** Relative imports that did not resolve to a file (a rule cannot see through them). */
  readonly unresolved: ReadonlyArray<string>
}

/**
 * Checks `paths` (relative to `baseDir`) against `rules`, resolving imports with the TypeScript
 * configuration `tsConfigFile` (type-only imports included).
 */
export const checkImports = async (
  baseDir: string,
  paths: ReadonlyArray<string>,
  rules: ReadonlyArray<IForbiddenRuleType>,
  tsConfigFile: string
): Promise<RuleReport> => {
  const options: ICruiseOptions = {
    baseDir,
    validate: true,
    ruleSet: { forbidden: [...rules] },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "[.]d[.]ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: tsConfigFile },
    outputType: "json"
  }
  const reported = await cruise([...paths], options, {}, { tsConfig: extractTSConfig(tsConfigFile) })
  const result: ICruiseResult = typeof reported.output === "string" ? JSON.parse(reported.output) : reported.output
  const violations = (result.summary.violations ?? []).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort()
  const unresolved: Array<string> = []
  for (const m of result.modules) {
    for (const d of m.dependencies) {
      if (d.couldNotResolve && d.module.startsWith(".")) unresolved.push(`${m.source} -> ${d.module}`)
    }
  }
  return { violations, modules: result.modules.filter((m) => !m.source.startsWith("node_modules/")).length, unresolved }
}
