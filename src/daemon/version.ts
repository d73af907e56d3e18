import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getAsset, isSea } from 'node:sea'

/** Our name on the npm registry (`starling` there is someone else's package; docs/decisions.md). */
export const PACKAGE_NAME = '@starling-swarm/starling'

let cached: string | undefined

/** The package version, read once from package.json (works from src/ under vitest and from dist/src/). */
export function version (): string {
  if (cached != null) return cached
  // The single-file binary has no package.json beside it: scripts/build-sea.mjs embeds it as an asset.
  if (isSea()) return (cached = readPackage(getAsset('package.json', 'utf8')) ?? '0.0.0-unknown')
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    try {
      const v = readPackage(readFileSync(join(dir, 'package.json'), 'utf8'))
      if (v != null) return (cached = v)
    } catch {}
    dir = dirname(dir)
  }
  return (cached = '0.0.0-unknown')
}

/** Our version from package.json text, or undefined when the file is some other package's. */
function readPackage (text: string): string | undefined {
  const pkg = JSON.parse(text) as { name?: string, version?: string }
  return pkg.name === PACKAGE_NAME ? pkg.version : undefined
}
