import { InvalidRequestError } from '../../errors.js'

/** The Hub's own default; `HF_ENDPOINT` (the name huggingface_hub reads) points elsewhere, e.g. a mirror. */
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co'
export const DEFAULT_REVISION = 'main'

export type RepoType = 'model' | 'dataset' | 'space'

/** `hf://[datasets/|spaces/]ORG/REPO[@REV][/PATH]`, parsed. */
export interface HubRef {
  type: RepoType
  /** `ORG/REPO` */
  repo: string
  /** A branch, tag or commit sha; `main` when absent. */
  revision: string
  /** A file or folder in the repo; '' for the whole repo. */
  path: string
}

const PREFIXES: Record<string, RepoType> = { 'datasets/': 'dataset', 'spaces/': 'space', 'models/': 'model' }
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * Parses an hf:// reference the way huggingface_hub's HfFileSystem spells
 * them: a revision with a slash (`refs/pr/1`) is written URL-encoded
 * (`@refs%2Fpr%2F1`), since a plain slash starts the path.
 */
export function parseHubRef (raw: string): HubRef {
  if (!/^hf:\/\//i.test(raw)) throw new InvalidRequestError(`not an hf:// reference: ${raw}`)
  let rest = raw.slice('hf://'.length)
  let type: RepoType = 'model'
  for (const [prefix, t] of Object.entries(PREFIXES)) {
    if (rest.startsWith(prefix)) { type = t; rest = rest.slice(prefix.length); break }
  }
  const parts = rest.split('/')
  if (parts.length < 2) throw new InvalidRequestError(`${raw}: expected hf://ORG/REPO[@REV][/PATH]`)
  const org = parts[0]
  let name = parts[1]
  let revision = DEFAULT_REVISION
  const at = name.indexOf('@')
  if (at >= 0) {
    try {
      revision = decodeURIComponent(name.slice(at + 1))
    } catch {
      throw new InvalidRequestError(`${raw}: the revision is not valid URL encoding`)
    }
    name = name.slice(0, at)
    if (revision === '') throw new InvalidRequestError(`${raw}: empty revision after @`)
  }
  if (!NAME.test(org) || !NAME.test(name)) throw new InvalidRequestError(`${raw}: ORG and REPO must be names like bigscience/bloom`)
  const path = parts.slice(2).filter(p => p !== '').join('/')
  checkRepoPath(path, raw, true)
  return { type, repo: `${org}/${name}`, revision, path }
}

/**
 * A path the Hub names must stay inside the output folder: no `..`, no
 * absolute path, no backslash (a hostile or broken hub must not make us
 * write outside it).
 */
export function checkRepoPath (path: string, context: string, allowEmpty = false): void {
  if (path === '' && allowEmpty) return
  const bad = path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0') ||
    path.split('/').some(seg => seg === '' || seg === '.' || seg === '..')
  if (bad) throw new InvalidRequestError(`${context}: unsafe path in repo: ${JSON.stringify(path)}`)
}

/** `models` / `datasets` / `spaces`, as the API paths spell them. */
export function apiKind (type: RepoType): string {
  return `${type}s`
}

/** Where a file's bytes are served: `/{repo}/resolve/{rev}/{path}` (datasets and spaces carry a prefix). */
export function resolveUrl (endpoint: string, ref: Pick<HubRef, 'type' | 'repo'>, commit: string, path: string): string {
  const prefix = ref.type === 'model' ? '' : `${apiKind(ref.type)}/`
  const encoded = path.split('/').map(encodeURIComponent).join('/')
  return `${trimSlash(endpoint)}/${prefix}${ref.repo}/resolve/${encodeURIComponent(commit)}/${encoded}`
}

export function trimSlash (s: string): string {
  return s.replace(/\/+$/, '')
}

/** `hf://ORG/REPO@REV/PATH` for messages. */
export function formatHubRef (ref: HubRef, path = ref.path): string {
  const prefix = ref.type === 'model' ? '' : `${apiKind(ref.type)}/`
  const rev = ref.revision === DEFAULT_REVISION ? '' : `@${encodeURIComponent(ref.revision)}`
  return `hf://${prefix}${ref.repo}${rev}${path === '' ? '' : `/${path}`}`
}
