#!/usr/bin/env node
/**
 * Assembles the container image's root filesystem from this machine, with
 * no base image: two folders, one per image layer (docs/deploy.md).
 *
 *   node scripts/image/rootfs.mjs OUT [--node PATH]
 *
 * OUT/runtime  the Node binary (stripped when `strip` is there), exactly the
 *              shared libraries `ldd` says it and the native addons load,
 *              /etc/passwd and /etc/group with the unprivileged user, /tmp,
 *              and the state folder owned by that user.
 * OUT/app      /opt/starling: what `npm pack` ships (package.json `files`)
 *              plus the production dependencies of package-lock.json, with
 *              source maps, type declarations and other platforms' native
 *              prebuilds left out.
 *
 * The runtime layer changes only when Node does, so a new starling version
 * moves only the app layer through the swarm. The Dockerfile runs this same
 * script in its build stage, so both ways give the same file tree.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The image's user: a fixed uid so volume ownership survives rebuilds; not 1000, which hosts hand to their first person. */
const IMAGE_UID = 10001
const APP_DIR = '/opt/starling'
const STATE_DIR = '/var/lib/starling'
const NODE_PATH = '/usr/local/bin/node'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Files no running node reads: maps, declarations, docs, tests of dependencies. */
const DROP_FILE = /(\.map|\.d\.ts|\.d\.mts|\.d\.cts|\.md|\.markdown|LICENSE\.txt)$/i
const DROP_DIR = new Set(['test', 'tests', '__tests__', 'docs', 'example', 'examples', '.github'])

function fail (msg) {
  process.stderr.write(`rootfs: ${msg}\n`)
  process.exit(2)
}

function parseArgs (argv) {
  const args = { out: undefined, node: process.execPath }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--node') args.node = argv[++i]
    else if (argv[i].startsWith('-')) fail(`unknown option ${argv[i]}`)
    else if (args.out == null) args.out = argv[i]
    else fail(`unexpected argument ${argv[i]}`)
  }
  if (args.out == null) fail('usage: rootfs.mjs OUT [--node PATH]')
  return { out: resolve(args.out), node: realpathSync(args.node) }
}

/** Absolute paths of the shared objects `ldd` resolves for a binary; a library it cannot find is an error, not a silent gap. */
function sharedLibs (binary) {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' })
  const libs = []
  for (const line of out.split('\n')) {
    if (/not found/.test(line)) {
      // musl builds of addons are alternatives node-gyp-build never loads on glibc.
      if (binary.includes('.musl.')) return []
      fail(`${binary}: ${line.trim()}`)
    }
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)
    if (m != null) libs.push(m[1])
  }
  return libs
}

/** Copies a file's content (following symlinks) to the same absolute path under root. */
function place (root, absPath, from = absPath) {
  const dest = join(root, absPath)
  mkdirSync(dirname(dest), { recursive: true })
  copyFileSync(realpathSync(from), dest)
  chmodSync(dest, statSync(realpathSync(from)).mode & 0o777)
  return dest
}

function walk (dir, visit) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, visit)
    visit(p, e)
  }
}

/** Production packages by lockfile path (`node_modules/a/node_modules/b`), as npm ci --omit=dev would install them. */
function productionPackages () {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))
  return Object.entries(lock.packages)
    .filter(([path, e]) => path !== '' && e.dev !== true && e.link !== true && (e.os == null || e.os.includes(process.platform)) && (e.cpu == null || e.cpu.includes(process.arch)))
    .map(([path]) => path)
}

function buildApp (appRoot) {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) fail('dist/src is missing: run `npm run build` first')
  const dest = join(appRoot, APP_DIR)
  mkdirSync(dest, { recursive: true })
  copyFileSync(join(ROOT, 'package.json'), join(dest, 'package.json'))
  for (const f of pkg.files) {
    if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(dest, f), { recursive: true })
  }
  for (const path of productionPackages()) {
    const src = join(ROOT, path)
    if (!existsSync(src)) fail(`${path} is in package-lock.json but not installed: run \`npm ci\` first`)
    cpSync(src, join(dest, path), { recursive: true, dereference: true })
  }
  const platform = `${process.platform}-${process.arch}`
  walk(dest, (p, e) => {
    if (!existsSync(p)) return
    if (e.isDirectory() && DROP_DIR.has(e.name) && p.includes('node_modules')) rmSync(p, { recursive: true })
    else if (e.isDirectory() && relative(dest, dirname(p)).endsWith('prebuilds') && e.name !== platform) rmSync(p, { recursive: true })
    else if (e.isFile() && DROP_FILE.test(e.name)) rmSync(p)
  })
  return dest
}

function buildRuntime (runtimeRoot, node, appDest) {
  const nodeDest = place(runtimeRoot, NODE_PATH, node)
  try {
    execFileSync('strip', ['--strip-unneeded', nodeDest])
  } catch {
    process.stderr.write('rootfs: no strip here; the node binary keeps its symbols (larger image)\n')
  }
  const binaries = [node]
  walk(appDest, (p, e) => { if (e.isFile() && p.endsWith('.node')) binaries.push(p) })
  const libs = new Set(binaries.flatMap(sharedLibs))
  for (const lib of libs) place(runtimeRoot, lib)
  const etc = join(runtimeRoot, 'etc')
  mkdirSync(etc, { recursive: true })
  writeFileSync(join(etc, 'passwd'), `root:x:0:0:root:/root:/sbin/nologin\nstarling:x:${IMAGE_UID}:${IMAGE_UID}:starling:${STATE_DIR}:/sbin/nologin\n`)
  writeFileSync(join(etc, 'group'), `root:x:0:\nstarling:x:${IMAGE_UID}:\n`)
  // glibc reads it for getaddrinfo; without it some lookups skip /etc/hosts.
  writeFileSync(join(etc, 'nsswitch.conf'), 'hosts: files dns\n')
  mkdirSync(join(runtimeRoot, 'tmp'), { recursive: true })
  chmodSync(join(runtimeRoot, 'tmp'), 0o1777)
  const state = join(runtimeRoot, STATE_DIR)
  mkdirSync(state, { recursive: true })
  chmodSync(state, 0o700)
  if (process.getuid?.() === 0) chownSync(state, IMAGE_UID, IMAGE_UID)
  else process.stderr.write(`rootfs: not root, ${STATE_DIR} stays owned by you (the Dockerfile sets its owner with COPY --chown)\n`)
  return [...libs]
}

const { out, node } = parseArgs(process.argv.slice(2))
rmSync(out, { recursive: true, force: true })
const appDest = buildApp(join(out, 'app'))
const libs = buildRuntime(join(out, 'runtime'), node, appDest)
const du = (p) => execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]
process.stdout.write(JSON.stringify({ out, node, libs, runtimeBytes: Number(du(join(out, 'runtime'))), appBytes: Number(du(join(out, 'app'))) }) + '\n')
