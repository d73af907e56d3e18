#!/usr/bin/env node
/**
 * Builds `starling` as one executable file with Node's single executable
 * applications (SEA) and postject (docs/deploy.md#single-file-binary).
 *
 *   node scripts/build-sea.mjs OUTDIR        (after `npm run build`)
 *
 * 1. esbuild bundles bin/starling.js and everything it imports into one
 *    CommonJS file: a Node 20 SEA runs one CommonJS script that can require
 *    only built-in modules.
 * 2. The native LevelDB addon cannot be inside a JavaScript bundle: it is an
 *    SEA asset, loaded by scripts/sea/native-addon.cjs in place of
 *    node-gyp-build. package.json is an asset too (the version).
 * 3. `node --experimental-sea-config` writes the blob; postject injects it
 *    into a copy of this machine's node binary (stripped when `strip` is
 *    there).
 *
 * Prints {"binary","bytes"} as JSON.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The fuse string Node's SEA support looks for (Node's docs, "Injecting the preparation blob"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const ADDON = join(ROOT, 'node_modules', 'classic-level', 'prebuilds', `${process.platform}-${process.arch}`, 'classic-level.node')

function fail (msg) {
  process.stderr.write(`build-sea: ${msg}\n`)
  process.exit(2)
}

const out = process.argv[2] == null ? fail('usage: build-sea.mjs OUTDIR') : resolve(process.argv[2])
if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) fail('dist/src is missing: run `npm run build` first')
if (!existsSync(ADDON)) fail(`no prebuilt LevelDB addon for ${process.platform}-${process.arch} at ${ADDON}`)
mkdirSync(out, { recursive: true })

const bundle = join(out, 'starling.cjs')
const result = await build({
  entryPoints: [join(ROOT, 'bin', 'starling.js')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: bundle,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // A CommonJS bundle has no import.meta; the one user (src/daemon/version.ts) reads the package.json asset in a SEA instead.
  define: { 'import.meta.url': '__starling_sea_url' },
  banner: { js: 'var __starling_sea_url = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [{
    name: 'sea-native-addon',
    setup (b) {
      b.onResolve({ filter: /^node-gyp-build$/ }, () => ({ path: join(ROOT, 'scripts', 'sea', 'native-addon.cjs') }))
    }
  }]
})
if (result.errors.length > 0) fail('esbuild failed')

const config = join(out, 'sea-config.json')
const blob = join(out, 'sea-prep.blob')
writeFileSync(config, JSON.stringify({
  main: bundle,
  output: blob,
  disableExperimentalSEAWarning: true,
  assets: { 'classic-level.node': ADDON, 'package.json': join(ROOT, 'package.json') }
}, null, 2))
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] })

const binary = join(out, 'starling')
copyFileSync(process.execPath, binary)
try {
  execFileSync('strip', ['--strip-unneeded', binary])
} catch {
  process.stderr.write('build-sea: no strip here; the binary keeps node\'s symbols (larger)\n')
}
execFileSync(process.execPath, [join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js'), binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: ['ignore', 'ignore', 'inherit'] })
process.stdout.write(JSON.stringify({ binary, bytes: statSync(binary).size, bundleBytes: statSync(bundle).size }) + '\n')
