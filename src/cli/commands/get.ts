import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BytesBySource } from '../../types.js'
import { formatBytes } from '../../daemon/size.js'
import { createAtomicFile, type AtomicFile } from '../atomic-file.js'
import { createClient } from '../client.js'
import { CliError, globals, type CliCommand, type CliContext } from '../context.js'
import { openFromDaemon, openStandalone, type OpenedBlob } from '../get-sources.js'
import { createProgress, share } from '../progress.js'
import { copyBlob, type BlobSink } from '../save-blob.js'
import { withCliSpan } from '../tracing.js'
import { SPAN } from '../../tracing/names.js'
import { uploadFile } from './add.js'
import { runGetHf } from './get-hf.js'
import { digestArg } from './stat.js'

interface GetFlags {
  output?: string
  digest?: string
  header?: string[]
  standalone?: boolean
  bootstrap?: string[]
  dataDir?: string
  progress?: boolean
  pieceMap?: string
  include?: string[]
  exclude?: string[]
  hfToken?: string
  lfsOnly?: boolean
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v]

export const getCommand: CliCommand = (program, ctx) => {
  program.command('get')
    .description('fetch a blob through the swarm (URL as origin) and write it atomically')
    .argument('<source>', 'http(s)/file URL to use as origin, a digest (sha256:<hex> or CID) the swarm already has, or hf://ORG/REPO[@REV][/PATH]')
    .option('-o, --output <file>', 'where to write (- for stdout; default: the URL\'s file name, or the digest\'s hex)')
    .option('--digest <sha256:hex>', 'the expected digest: verified, and lets peers share the download')
    .option('-H, --header <header>', 'origin request header "Name: value", repeatable', collect)
    .option('--standalone', 'run an ephemeral node in this process instead of using the daemon')
    .option('--bootstrap <multiaddr>', 'with --standalone: peer to join through, repeatable', collect)
    .option('--data-dir <dir>', 'with --standalone: keep the store here (default: a temp folder, removed)')
    .option('--no-progress', 'never draw the progress bar')
    .option('--piece-map <cid>', 'the CID of the blob\'s piece map (`starling add`/`stat` print it): every piece is checked against it on arrival, none is taken on a peer\'s word')
    .option('--include <glob>', 'hf://: fetch only files matching, repeatable (a glob without / matches the file name at any depth)', collect)
    .option('--exclude <glob>', 'hf://: leave out files matching, repeatable', collect)
    .option('--hf-token <token>', 'hf://: Hugging Face token, sent as Bearer to the hub (env HF_TOKEN; endpoint from env HF_ENDPOINT)')
    .option('--lfs-only', 'hf://: leave out files kept in git rather than LFS (the hub lists no sha256 for them)')
    .action(async (source: string, flags: GetFlags, cmd) => { await withCliSpan(ctx.env, SPAN.cliGet, async () => { await runGet(ctx, cmd, source, flags) }) })
}

async function runGet (ctx: CliContext, cmd: Parameters<typeof globals>[0], source: string, f: GetFlags): Promise<void> {
  const g = globals(cmd)
  if (/^hf:\/\//i.test(source)) {
    if (f.digest != null || f.pieceMap != null || f.header != null) throw new CliError('--digest, --piece-map and -H do not apply to hf:// sources (the hub lists each file\'s sha256; use --hf-token)', 2)
    return await interruptible(async (signal) => { await runGetHf(ctx, g, source, f, signal) })
  }
  if (f.include != null || f.exclude != null || f.lfsOnly === true) throw new CliError('--include, --exclude and --lfs-only are for hf:// sources', 2)
  const isUrl = /^(https?|file):\/\//i.test(source)
  const url = isUrl ? source : undefined
  let digest = f.digest != null ? await digestArg(f.digest) : undefined
  if (!isUrl) {
    const d = await digestArg(source)
    if (digest != null && digest !== d) throw new CliError(`--digest ${digest} differs from the digest argument ${d}`, 2)
    digest = d
  }
  const headers = parseHeaders(f.header ?? [])
  const target = f.output ?? defaultName(url, digest)
  const toStdout = target === '-'
  const bar = createProgress(ctx.stderr, ctx.stderr.isTTY === true && g.json !== true && f.progress !== false)
  const ac = new AbortController()
  const onSigint = (): void => { ac.abort(new CliError('interrupted', 130)) }
  process.once('SIGINT', onSigint)
  const started = performance.now()
  let out: AtomicFile | undefined
  let opened: OpenedBlob | undefined
  try {
    const client = createClient(g, ctx)
    let daemonUrl = url
    if (f.standalone !== true && url != null && /^file:/i.test(url)) {
      // The daemon reads no file for API callers unless its config allows
      // it (allowFileImport): the CLI sends the bytes and asks by digest.
      const path = fileURLToPath(url)
      const st = await stat(path).catch((err: NodeJS.ErrnoException) => { throw new CliError(`${path}: ${err.code ?? err.message}`) })
      digest = (await uploadFile(client, path, st.size, { digest, signal: ac.signal })).digest
      daemonUrl = undefined
    }
    const req = {
      url: f.standalone === true ? url : daemonUrl,
      digest,
      pieceMap: f.pieceMap,
      headers,
      signal: ac.signal,
      onSource: bar.source,
      onSize: (size: number) => { bar.setTotal(size) },
      onImportProgress: (bytes: number, size: number | undefined) => {
        if (size != null) bar.setTotal(size)
        bar.update(bytes)
      },
      onImport: () => {
        if (ctx.stderr.isTTY === true && g.json !== true) ctx.stderr.write(`no --digest: downloading ${url ?? ''} once through the ${f.standalone === true ? 'local node' : 'daemon'} to learn its digest\n`)
        bar.stage('download')
      }
    }
    opened = f.standalone === true
      ? await openStandalone(req, { bootstrap: f.bootstrap, dataDir: f.dataDir })
      : await openFromDaemon(client, req)
    // After an import the bytes are already here: what is left is writing them out.
    if (opened.imported != null) bar.stage('write')
    out = toStdout ? undefined : await createAtomicFile(resolve(target))
    const sink = out ?? stdoutSink(ctx)
    await copyBlob(opened, sink, bar)
    const got = await sink.commit(opened.digest)
    const finishing = opened
    opened = undefined
    const bySource: BytesBySource = await finishing.finish() ?? bar.bySource
    bar.stop()
    const result = { path: toStdout ? '-' : resolve(target), digest: got, size: sink.bytes, bytesBySource: bySource, durationMs: Math.round(performance.now() - started) }
    if (g.json === true) (toStdout ? ctx.stderr : ctx.stdout).write(JSON.stringify(result, null, 2) + '\n')
    else if (ctx.stderr.isTTY === true) ctx.stderr.write(`${result.path}: ${formatBytes(result.size)} ${got} ${share(bySource)}\n`)
  } catch (err) {
    bar.stop()
    await out?.abort()
    if (ac.signal.aborted && ac.signal.reason instanceof CliError) throw ac.signal.reason
    throw err
  } finally {
    process.off('SIGINT', onSigint)
    await opened?.close().catch(() => {})
  }
}

/** Writes to stdout with backpressure, hashing as it goes; the digest is checked at the end (nothing can be unwritten). */
function stdoutSink (ctx: CliContext): BlobSink {
  const hash = createHash('sha256')
  let bytes = 0
  return {
    get bytes () { return bytes },
    async write (chunk) {
      hash.update(chunk)
      bytes += chunk.byteLength
      if (!ctx.stdout.write(chunk)) await new Promise(resolve => ctx.stdout.once('drain', resolve))
    },
    async commit (expected) {
      const d = `sha256:${hash.digest('hex')}`
      if (expected != null && d !== expected) throw new CliError(`digest mismatch: expected ${expected}, got ${d}`)
      return d
    }
  }
}

function parseHeaders (list: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of list) {
    const i = h.indexOf(':')
    if (i <= 0) throw new CliError(`-H: expected "Name: value", got ${JSON.stringify(h)}`, 2)
    out[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim()
  }
  return out
}

function defaultName (url: string | undefined, digest: string | undefined): string {
  if (url != null) {
    const name = basename(new URL(url).pathname)
    if (name !== '' && name !== '/' && name !== '.' && name !== '..') return name
  }
  if (digest != null) return digest.slice('sha256:'.length)
  throw new CliError('cannot pick an output name: pass -o FILE', 2)
}

/** Runs `fn` with a signal that Ctrl-C aborts (exit code 130). */
async function interruptible (fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController()
  const onSigint = (): void => { ac.abort(new CliError('interrupted', 130)) }
  process.once('SIGINT', onSigint)
  try {
    await fn(ac.signal)
  } finally {
    process.off('SIGINT', onSigint)
  }
}
