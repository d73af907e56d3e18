#!/usr/bin/env node
// Generates the TypeScript codec of every wire format from its one .proto.
//
// The .proto files live only in protocols/<name>/<name>.proto, next to the
// spec (README.md) of the format; the generated modules live in src/*/pb/.
// This script is the only thing that writes those modules:
//
//   npm run gen:proto                          # rewrite src/*/pb/*.ts
//   node scripts/gen-proto.mjs --check         # exit 1 naming any stale module
//   node scripts/gen-proto.mjs --out <dir>     # write <dir>/src/*/pb/*.ts instead
//
// test/protocols/generated.test.ts runs it with --out and fails when a
// committed module differs from what its .proto gives.
//
// It uses the `generate` function of the protons compiler (a devDependency),
// which writes `<basename>.ts` into an output directory; every .proto is
// compiled into a temporary directory and the result moved to its module.

import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** protocols/<name>/<name>.proto → the module in src that the code imports. */
export const FORMATS = [
  { proto: 'protocols/meta/meta.proto', module: 'src/transfer/pb/meta.ts' },
  { proto: 'protocols/piece/piece.proto', module: 'src/transfer/pb/piece.ts' },
  { proto: 'protocols/gossip/gossip.proto', module: 'src/swarm/pb/gossip.ts' },
  { proto: 'protocols/piece-map/piece-map.proto', module: 'src/content/pb/piece-map.ts' }
]

/** Throws unless FORMATS maps exactly the .proto files under protocols/. */
async function checkTable () {
  const found = []
  for (const dir of await readdir(path.join(ROOT, 'protocols'), { withFileTypes: true })) {
    if (!dir.isDirectory()) continue
    for (const f of await readdir(path.join(ROOT, 'protocols', dir.name))) {
      if (f.endsWith('.proto')) found.push(`protocols/${dir.name}/${f}`)
    }
  }
  const mapped = new Set(FORMATS.map(f => f.proto))
  const unmapped = found.filter(p => !mapped.has(p))
  const missing = [...mapped].filter(p => !found.includes(p))
  if (unmapped.length > 0) throw new Error(`no module for ${unmapped.join(', ')}: add it to FORMATS in scripts/gen-proto.mjs`)
  if (missing.length > 0) throw new Error(`missing .proto: ${missing.join(', ')}`)
}

/** Compiles every .proto; returns [{ proto, module, content }]. */
export async function generateAll () {
  await checkTable()
  const { generate } = await import('protons')
  const work = await mkdtemp(path.join(tmpdir(), 'starling-gen-proto-'))
  try {
    const out = []
    for (const [i, f] of FORMATS.entries()) {
      // One directory per format: protons names its output after the .proto.
      const dir = path.join(work, String(i))
      await mkdir(dir)
      await generate(path.join(ROOT, f.proto), { output: dir, strict: true })
      const name = path.basename(f.proto, '.proto') + '.ts'
      out.push({ ...f, content: await markUnusedOpts(await readFile(path.join(dir, name), 'utf8')) })
    }
    return out
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * protons gives every decoder an `opts = {}` parameter, read only by messages
 * with repeated fields; the others fail tsconfig's noUnusedParameters
 * (ipfs/protons#130). Renames each `opts` parameter that its function never
 * reads to `_opts`, the one spelling that check accepts; nothing else changes.
 */
async function markUnusedOpts (source) {
  const { default: ts } = await import('typescript')
  const file = ts.createSourceFile('pb.ts', source, ts.ScriptTarget.Latest, true)
  const starts = []
  const reads = (node) => {
    let found = false
    const visit = (n) => {
      if (found) return
      if (ts.isIdentifier(n) && n.text === 'opts') found = true
      else ts.forEachChild(n, visit)
    }
    if (node != null) visit(node)
    return found
  }
  const walk = (node) => {
    if (ts.isFunctionLike(node)) {
      for (const p of node.parameters) {
        if (ts.isIdentifier(p.name) && p.name.text === 'opts' && !reads(node.body)) starts.push(p.name.getStart(file))
      }
    }
    ts.forEachChild(node, walk)
  }
  walk(file)
  let out = source
  for (const at of starts.sort((a, b) => b - a)) out = `${out.slice(0, at)}_${out.slice(at)}`
  return out
}

async function main () {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      check: { type: 'boolean', default: false }
    }
  })
  const generated = await generateAll()
  if (values.check) {
    const stale = []
    for (const g of generated) {
      const committed = await readFile(path.join(ROOT, g.module), 'utf8').catch(() => undefined)
      if (committed !== g.content) stale.push(`${g.module} (from ${g.proto})`)
    }
    if (stale.length > 0) {
      console.error(`stale generated code, run \`npm run gen:proto\`:\n  ${stale.join('\n  ')}`)
      process.exitCode = 1
    }
    return
  }
  const base = values.out != null ? path.resolve(values.out) : ROOT
  for (const g of generated) {
    const target = path.join(base, g.module)
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, g.content)
    console.log(`${g.proto} → ${path.relative(process.cwd(), target)}`)
  }
}

if (process.argv[1] != null && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
