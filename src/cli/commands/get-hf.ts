/**
 * `starling get hf://ORG/REPO[@REV][/PATH]`: the files a Hugging Face repo
 * (or one folder or file of it) holds, resolved through the Hub's API and
 * fetched through the swarm by digest, the Hub's resolve URL as origin
 * (docs/model-hubs.md).
 */
import { mkdir } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import type { Hash } from 'node:crypto'
import type { BytesBySource } from '../../types.js'
import { formatBytes } from '../../daemon/size.js'
import {
  createGitBlobHash, createHubApi, DEFAULT_HF_ENDPOINT, formatHubRef, listHubFiles, parseHubRef,
  type HubFile, type HubRef
} from '../../origin/hf/index.js'
import { createAtomicFile, type AtomicFile } from '../atomic-file.js'
import { createClient } from '../client.js'
import { CliError, type CliContext, type GlobalOptions } from '../context.js'
import { openFromDaemon, startStandalone, type GetRequest, type OpenedBlob } from '../get-sources.js'
import { createProgress, share } from '../progress.js'
import { copyBlob } from '../save-blob.js'

export interface HfGetFlags {
  output?: string
  include?: string[]
  exclude?: string[]
  hfToken?: string
  lfsOnly?: boolean
  standalone?: boolean
  bootstrap?: string[]
  dataDir?: string
  progress?: boolean
}

interface Fetched { path: string, file: string, digest: string, size: number, bytesBySource?: BytesBySource }

type Open = (r: GetRequest) => Promise<OpenedBlob>

export async function runGetHf (ctx: CliContext, g: GlobalOptions, source: string, f: HfGetFlags, signal: AbortSignal): Promise<void> {
  let ref: HubRef
  try {
    ref = parseHubRef(source)
  } catch (err) {
    throw new CliError((err as Error).message, 2)
  }
  if (f.output === '-') throw new CliError('hf:// sources are written to files: pass -o FILE or -o DIR, not -', 2)
  const token = f.hfToken ?? ctx.env.HF_TOKEN
  const api = createHubApi({ endpoint: ctx.env.HF_ENDPOINT ?? DEFAULT_HF_ENDPOINT, token })
  const listing = await listHubFiles(api, ref, { include: f.include, exclude: f.exclude, lfsOnly: f.lfsOnly, signal })
  if (listing.files.length === 0) throw new CliError(`${formatHubRef(ref)}: no file matches at ${listing.commit.slice(0, 12)}`)
  // One named file goes to -o FILE (or its name here); a folder or repo to -o DIR (or the repo's name).
  const single = listing.single ? listing.files[0] : undefined
  const root = resolve(f.output ?? (single != null ? basename(single.path) : ref.repo.split('/')[1]))
  const where = (file: HubFile): string => single != null ? root : join(root, file.path)
  const headers: Record<string, string> = token != null && token !== '' ? { authorization: `Bearer ${token}` } : {}

  const session = f.standalone === true ? await startStandalone({ bootstrap: f.bootstrap, dataDir: f.dataDir }) : undefined
  const client = session == null ? createClient(g, ctx) : undefined
  const open: Open = session != null ? async (r) => await session.open(r) : async (r) => await openFromDaemon(client!, r)
  const done: Fetched[] = []
  let ok = false
  try {
    for (const file of listing.files) {
      const target = where(file)
      await mkdir(dirname(target), { recursive: true })
      const got = await fetchFile(ctx, g, f, open, ref, file, target, headers, signal)
      done.push(got)
      if (g.json !== true && ctx.stderr.isTTY === true) {
        ctx.stderr.write(`${got.file}: ${formatBytes(got.size)} ${got.digest} ${got.bytesBySource == null ? '' : share(got.bytesBySource)}\n`)
      }
    }
    ok = true
  } finally {
    if (ok) await session?.stop()
    else await session?.abandon()
  }
  if (g.json === true) {
    ctx.stdout.write(JSON.stringify({ source: formatHubRef(ref), repo: ref.repo, revision: ref.revision, commit: listing.commit, output: root, files: done }, null, 2) + '\n')
  }
}

async function fetchFile (
  ctx: CliContext, g: GlobalOptions, f: HfGetFlags, open: Open, ref: HubRef, file: HubFile,
  target: string, headers: Record<string, string>, signal: AbortSignal
): Promise<Fetched> {
  const name = formatHubRef(ref, file.path)
  const bar = createProgress(ctx.stderr, ctx.stderr.isTTY === true && g.json !== true && f.progress !== false)
  let out: AtomicFile | undefined
  let opened: OpenedBlob | undefined
  // Files kept in git have no sha256 from the Hub: their git blob id is checked instead.
  const git: Hash | undefined = file.gitOid != null ? createGitBlobHash(file.size) : undefined
  try {
    opened = await open({ url: file.url, digest: file.digest, headers, signal, onSource: bar.source })
    out = await createAtomicFile(target)
    await copyBlob(opened, out, bar, git == null ? undefined : (c) => { git.update(c) })
    if (out.bytes !== file.size) throw new CliError(`${name}: got ${out.bytes} bytes, the hub lists ${file.size}; nothing written`)
    if (git != null) {
      const oid = git.digest('hex')
      if (oid !== file.gitOid) throw new CliError(`${name}: the bytes served have git blob id ${oid}, the hub lists ${file.gitOid}; nothing written`)
    }
    const digest = await out.commit(file.digest).catch((err: Error) => {
      throw new CliError(`${name}: the bytes served do not match the sha256 the hub lists (${err.message})`)
    })
    const finishing = opened
    opened = undefined
    const bySource = await finishing.finish() ?? bar.bySource
    bar.stop()
    return { path: file.path, file: target, digest, size: file.size, bytesBySource: bySource }
  } catch (err) {
    bar.stop()
    await out?.abort()
    if (signal.aborted && signal.reason instanceof CliError) throw signal.reason
    const msg = (err as Error).message
    if (msg.startsWith(name)) throw err
    // The daemon's message names the digest only: say which file, and what the hub promised for it.
    const listed = file.digest != null ? ` (the hub lists ${file.digest})` : ''
    throw new CliError(`${name}${listed}: ${msg}; nothing written`)
  } finally {
    await opened?.close().catch(() => {})
  }
}
