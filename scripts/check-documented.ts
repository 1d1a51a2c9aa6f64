/**
 * Every public export carries a doc comment: walks the exports of each package entry point (and
 * of the namespaces they export, `export * as X`), and lists every one whose declarations have
 * no JSDoc comment. Exits with 1 and the list when there is any; prints a count otherwise.
 * Arguments, when given, replace the package's entry points (test/package-docs.test.ts checks the
 * check on a module with an undocumented export).
 *
 * Run by `npm run docs` before typedoc (whose own `notDocumented` validation would also demand
 * comments on every interface property and on types it expands from Effect's own declarations).
 */
import { dirname, relative, resolve } from "node:path"
import ts from "typescript"

const root = resolve(dirname(new URL(import.meta.url).pathname), "..")
const PACKAGE_ENTRY_POINTS = ["src/index.ts", "src/node.ts", "src/browser.ts", "src/testing.ts", "src/effect-cluster/index.ts"]
const ENTRY_POINTS = process.argv.length > 2 ? process.argv.slice(2) : PACKAGE_ENTRY_POINTS

const configFile = ts.readConfigFile(resolve(root, "tsconfig.json"), (p) => ts.sys.readFile(p))
const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root)
const program = ts.createProgram(ENTRY_POINTS.map((e) => resolve(root, e)), { ...parsed.options, noEmit: true })
const checker = program.getTypeChecker()

const where = (declaration: ts.Declaration) => {
  const file = declaration.getSourceFile()
  const { line } = file.getLineAndCharacterOfPosition(declaration.getStart())
  return `${relative(root, file.fileName)}:${line + 1}`
}

/** A declaration counts as documented when it (or its variable statement) has a JSDoc comment. */
const hasDoc = (declaration: ts.Declaration): boolean => {
  const node = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration
  return ts.getJSDocCommentsAndTags(node).length > 0 || ts.getJSDocCommentsAndTags(declaration).length > 0
}

const missing: Array<string> = []
let checked = 0
const seen = new Set<ts.Symbol>()

const visit = (moduleSymbol: ts.Symbol, path: string) => {
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    const name = `${path}.${exported.name}`
    const declarations = symbol.declarations ?? []
    // `export * as X from "./x.js"`: a module; its exports are public too.
    const module = declarations.find(ts.isSourceFile)
    if (module !== undefined) {
      if (!seen.has(symbol)) {
        seen.add(symbol)
        visit(symbol, name)
      }
      continue
    }
    if (seen.has(symbol)) continue
    seen.add(symbol)
    // Declarations outside this repository (a re-exported Effect constructor) are documented there.
    const own = declarations.filter((d) => !d.getSourceFile().fileName.includes("/node_modules/"))
    if (own.length === 0) continue
    checked += 1
    if (!own.some(hasDoc)) missing.push(`${name}  (${own.map(where).join(", ")})`)
  }
}

for (const entry of ENTRY_POINTS) {
  const file = program.getSourceFile(resolve(root, entry))
  const moduleSymbol = file && checker.getSymbolAtLocation(file)
  if (moduleSymbol === undefined) throw new Error(`cannot read the exports of ${entry}`)
  visit(moduleSymbol, entry.replace(/^src\//, "").replace(/(\/index)?\.ts$/, ""))
}

if (missing.length > 0) {
  console.error(`${missing.length} of ${checked} public exports have no doc comment:\n${missing.sort().join("\n")}`)
  process.exit(1)
}
console.log(`all ${checked} public exports are documented`)
