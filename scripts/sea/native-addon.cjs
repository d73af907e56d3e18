/**
 * Stands in for `node-gyp-build` inside the single-file binary (bundled by
 * scripts/build-sea.mjs in its place). A SEA can `require` only Node's
 * built-ins, and `process.dlopen` needs a real file, so the addon the build
 * embedded as an asset is written once to a folder only this user can
 * write, named by its sha256, and loaded from there.
 */
'use strict'
const { createHash } = require('node:crypto')
const { chmodSync, existsSync, lstatSync, mkdirSync, renameSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const sea = require('node:sea')

/** The asset name scripts/build-sea.mjs stores the addon under. */
const ASSET = 'classic-level.node'

function privateDir () {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user'
  const dir = join(process.env.XDG_RUNTIME_DIR || tmpdir(), `starling-native-${uid}`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  // Another user could have made the folder first and planted a library in it.
  const st = lstatSync(dir)
  if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
    throw new Error(`${dir} is not a folder of this user: refusing to load native code from it`)
  }
  chmodSync(dir, 0o700)
  return dir
}

module.exports = function load () {
  const bytes = Buffer.from(sea.getRawAsset(ASSET))
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 32)
  const file = join(privateDir(), `${ASSET.replace(/\.node$/, '')}-${hash}.node`)
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, bytes, { mode: 0o700 })
    renameSync(tmp, file)
  }
  const mod = { exports: {} }
  process.dlopen(mod, file)
  return mod.exports
}
