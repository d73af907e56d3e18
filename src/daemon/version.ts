import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Our name on the npm registry (`starling` there is someone else's package; docs/decisions.md). */
export const PACKAGE_NAME = '@starling-swarm/starling'

let cached: string | undefined

/** The package version, read once from package.json (works from src/ under vitest and from dist/src/). */
export function version (): string {
  if (cached != null) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === PACKAGE_NAME && pkg.version != null) return (cached = pkg.version)
    } catch {}
    dir = dirname(dir)
  }
  return (cached = '0.0.0-unknown')
}
