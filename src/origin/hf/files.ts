/**
 * Which files of a repo a `starling get hf://…` fetches, and what each is
 * checked against: LFS files by the sha256 the Hub lists (their swarm
 * digest), small files kept in git by their git blob id.
 */
import picomatch from 'picomatch'
import { InvalidRequestError } from '../../errors.js'
import type { AbortOptions } from '../../types.js'
import type { HubApi, TreeEntry } from './api.js'
import { checkRepoPath, formatHubRef, resolveUrl, type HubRef } from './url.js'

export interface HubFile {
  /** Path in the repo, checked to stay inside an output folder. */
  path: string
  size: number
  /** `sha256:<hex>` for LFS files: the swarm fetches them by it. */
  digest?: string
  /** The git blob id (sha1 of `blob <size>\0` + bytes) of a file kept in git. */
  gitOid?: string
  /** The resolve URL, pinned to the commit: same bytes on every node. */
  url: string
}

export interface HubListing {
  /** The commit the revision named when listed. */
  commit: string
  /** Whether the reference named one file (else a folder or the whole repo). */
  single: boolean
  files: HubFile[]
}

export interface SelectOptions extends AbortOptions {
  include?: string[]
  exclude?: string[]
  /** Leave out files not in LFS (no sha256 from the Hub; see docs/model-hubs.md). */
  lfsOnly?: boolean
}

/**
 * A glob without a slash matches the file name at any depth (`*.safetensors`
 * also takes `sub/x.safetensors`, as huggingface_hub's fnmatch patterns
 * do); one with a slash matches the whole path in the repo (`onnx/**`),
 * also when the reference names a folder, as snapshot_download's patterns do.
 */
export function createPathFilter (include: string[] = [], exclude: string[] = []): (path: string) => boolean {
  const compile = (globs: string[]): Array<(p: string) => boolean> => globs.map(g => picomatch(g, { dot: true, basename: !g.includes('/') }))
  const inc = compile(include)
  const exc = compile(exclude)
  return (p) => (inc.length === 0 || inc.some(m => m(p))) && !exc.some(m => m(p))
}

/** Resolves the revision to a commit and lists the files the reference and globs select. */
export async function listHubFiles (api: HubApi, ref: HubRef, o: SelectOptions = {}): Promise<HubListing> {
  const commit = await api.commit(ref, o)
  let entries: TreeEntry[]
  let single = false
  if (ref.path === '') {
    entries = await api.tree(ref, commit, '', o)
  } else {
    const [info] = (await api.pathsInfo(ref, commit, [ref.path], o)).filter(e => e.path === ref.path)
    if (info == null) throw new InvalidRequestError(`${formatHubRef(ref)}: no such file or folder at ${commit.slice(0, 12)}`)
    single = info.type === 'file'
    entries = single ? [info] : await api.tree(ref, commit, ref.path, o)
  }
  const keep = createPathFilter(o.include, o.exclude)
  const files: HubFile[] = []
  for (const e of entries) {
    if (e.type !== 'file') continue
    checkRepoPath(e.path, formatHubRef(ref))
    // The globs choose among a folder's files, not whether one named file is wanted.
    if (!single && !keep(e.path)) continue
    if (e.lfs == null && o.lfsOnly === true) continue
    files.push(toFile(api.endpoint, ref, commit, e))
  }
  files.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  return { commit, single, files }
}

function toFile (endpoint: string, ref: HubRef, commit: string, e: TreeEntry): HubFile {
  const url = resolveUrl(endpoint, ref, commit, e.path)
  if (e.lfs != null) return { path: e.path, size: e.lfs.size, digest: `sha256:${e.lfs.oid}`, url }
  if (e.size == null || e.oid == null || !/^[0-9a-f]{40}$/.test(e.oid)) {
    throw new InvalidRequestError(`${formatHubRef(ref, e.path)}: the hub lists neither an LFS sha256 nor a git blob id with a size`)
  }
  return { path: e.path, size: e.size, gitOid: e.oid, url }
}

