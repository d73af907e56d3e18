import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// One source per wire format: protocols/<name>/<name>.proto. The modules in
// src/*/pb/*.ts are generated from it by scripts/gen-proto.mjs and committed;
// this test regenerates them into a temp directory and fails, naming the
// module, when a committed one is not what its .proto gives.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SCRIPT = path.join(ROOT, 'scripts/gen-proto.mjs')

/** `src/<area>/pb/<file>` (posix separators) of every file matching `ext` in a tree. */
function pbFiles (base: string, ext: string): string[] {
  const src = path.join(base, 'src')
  if (!existsSync(src)) return []
  const out: string[] = []
  for (const area of readdirSync(src, { withFileTypes: true })) {
    if (!area.isDirectory()) continue
    const pb = path.join(src, area.name, 'pb')
    if (!existsSync(pb)) continue
    for (const f of readdirSync(pb)) {
      if (f.endsWith(ext)) out.push(`src/${area.name}/pb/${f}`)
    }
  }
  return out.sort()
}

/** Every .proto anywhere under src/ (there must be none). */
function protosUnder (dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...protosUnder(p))
    else if (e.name.endsWith('.proto')) out.push(path.relative(ROOT, p))
  }
  return out
}

const committed = pbFiles(ROOT, '.ts')

describe('generated protobuf code', () => {
  let out: string

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'starling-proto-'))
    await promisify(execFile)(process.execPath, [SCRIPT, '--out', out], { cwd: ROOT })
  }, 60_000)

  afterAll(async () => {
    if (out != null) await rm(out, { recursive: true, force: true })
  })

  it('has its only .proto sources in protocols/', () => {
    expect(protosUnder(path.join(ROOT, 'src')), '.proto files belong in protocols/<name>/, not in src').toEqual([])
  })

  it('generates exactly the committed modules', () => {
    expect(committed.length).toBeGreaterThan(0)
    expect(pbFiles(out, '.ts'), 'src/*/pb/*.ts must be exactly the modules scripts/gen-proto.mjs writes').toEqual(committed)
  })

  it.each(committed)('%s is what its .proto gives', (module) => {
    const generated = path.join(out, module)
    expect(existsSync(generated), `${module} is not generated from any protocols/*/*.proto (see FORMATS in scripts/gen-proto.mjs)`).toBe(true)
    const want = readFileSync(generated, 'utf8')
    const have = readFileSync(path.join(ROOT, module), 'utf8')
    expect(have, `${module} is stale: run \`npm run gen:proto\` and commit the result`).toBe(want)
  })
})
