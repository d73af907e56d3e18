/**
 * The few Hugging Face Hub API calls a download needs, as huggingface_hub
 * makes them (hf_api.py): the commit a revision names, `paths-info` for named
 * paths, and the recursive `tree` listing, paged through `Link: rel="next"`.
 * JSON only; file bytes never pass through here.
 */
import { z } from 'zod'
import { OriginError, throwIfAborted } from '../../errors.js'
import { sleep } from '../../utils/rate-limit.js'
import { Attempt, backoffMs, isTransient, parseRetryAfter, statusError } from '../http-util.js'
import type { AbortOptions } from '../../types.js'
import { apiKind, trimSlash, type HubRef } from './url.js'

/** One API answer may not take longer than this in silence. */
const API_TIMEOUT_MS = 30_000
/** Tries per API call, the first included; 429 and 5xx are retried. */
const API_TRIES = 4
const API_BACKOFF_MS = 500
/** A listing longer than this many pages is refused rather than followed forever. */
const MAX_TREE_PAGES = 10_000

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/)
const entrySchema = z.object({
  type: z.enum(['file', 'directory']),
  path: z.string(),
  oid: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  // Files stored in LFS (or Xet, which keeps the LFS fields): `oid` is the sha256 of the content.
  lfs: z.object({ oid: sha256Hex, size: z.number().int().nonnegative() }).optional()
})
export type TreeEntry = z.infer<typeof entrySchema>
const entriesSchema = z.array(entrySchema)
const revisionSchema = z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) })

export interface HubApiInit {
  endpoint: string
  /** Sent as `Authorization: Bearer` to the endpoint only (never to a redirect's other host). */
  token?: string
}

export interface HubApi {
  readonly endpoint: string
  /** The commit sha a branch, tag or sha names. */
  commit(ref: HubRef, options?: AbortOptions): Promise<string>
  /** Entries for the given paths at a commit (files and folders; absent paths are left out). */
  pathsInfo(ref: HubRef, commit: string, paths: string[], options?: AbortOptions): Promise<TreeEntry[]>
  /** Every entry under `path` ('' = the root), recursively. */
  tree(ref: HubRef, commit: string, path: string, options?: AbortOptions): Promise<TreeEntry[]>
}

export function createHubApi (init: HubApiInit): HubApi {
  const endpoint = trimSlash(init.endpoint)
  let base: URL
  try {
    base = new URL(endpoint)
  } catch (err) {
    throw new OriginError(`hub endpoint is not a URL: ${endpoint}`, { cause: err })
  }
  const headers: Record<string, string> = { accept: 'application/json' }
  if (init.token != null && init.token !== '') headers.authorization = `Bearer ${init.token}`
  const repoPath = (ref: HubRef): string => `${endpoint}/api/${apiKind(ref.type)}/${ref.repo}`

  async function call (url: string, what: string, body: URLSearchParams | undefined, signal?: AbortSignal): Promise<{ json: unknown, next?: string }> {
    for (let failures = 1; ; failures++) {
      throwIfAborted(signal)
      const attempt = new Attempt(what, API_TIMEOUT_MS, signal)
      try {
        // fetch drops Authorization when a redirect leaves the endpoint's origin.
        const res = await fetch(url, { method: body == null ? 'GET' : 'POST', headers, body, signal: attempt.signal, redirect: 'follow' })
          .catch((err: Error) => { throw unreachable(what, endpoint, err) })
        if (!res.ok) {
          await res.body?.cancel()
          throw hubStatusError(what, res.status, parseRetryAfter(res.headers.get('retry-after') ?? undefined))
        }
        const json: unknown = await res.json().catch((err: unknown) => {
          throw new OriginError(`${what}: the hub's answer is not JSON`, { cause: err })
        })
        return { json, next: nextLink(res.headers.get('link')) }
      } catch (err) {
        const e = attempt.explain(err)
        if (signal?.aborted === true || !(e instanceof OriginError) || !e.retryable || failures >= API_TRIES) throw e
        await sleep(backoffMs(failures, API_BACKOFF_MS, e), signal)
      } finally {
        attempt.done()
      }
    }
  }

  function parse<T> (schema: z.ZodType<T>, json: unknown, what: string): T {
    const r = schema.safeParse(json)
    if (!r.success) throw new OriginError(`${what}: unexpected answer from the hub: ${r.error.issues[0]?.message ?? 'invalid'} at ${r.error.issues[0]?.path.join('.') ?? ''}`)
    return r.data
  }

  return {
    endpoint,
    async commit (ref, options = {}) {
      const what = `${ref.repo}@${ref.revision}`
      const { json } = await call(`${repoPath(ref)}/revision/${encodeURIComponent(ref.revision)}`, what, undefined, options.signal)
      return parse(revisionSchema, json, what).sha
    },
    async pathsInfo (ref, commit, paths, options = {}) {
      const what = `${ref.repo}@${commit.slice(0, 12)} paths-info`
      const form = new URLSearchParams()
      for (const p of paths) form.append('paths', p)
      form.set('expand', 'false')
      const { json } = await call(`${repoPath(ref)}/paths-info/${commit}`, what, form, options.signal)
      return parse(entriesSchema, json, what)
    },
    async tree (ref, commit, path, options = {}) {
      const what = `${ref.repo}@${commit.slice(0, 12)} tree`
      const sub = path === '' ? '' : `/${encodeURIComponent(path)}`
      let url: string | undefined = `${repoPath(ref)}/tree/${commit}${sub}?recursive=true&expand=false`
      const out: TreeEntry[] = []
      for (let page = 0; url !== undefined; page++) {
        if (page >= MAX_TREE_PAGES) throw new OriginError(`${what}: more than ${MAX_TREE_PAGES} pages`)
        const r = await call(url, what, undefined, options.signal)
        out.push(...parse(entriesSchema, r.json, what))
        url = r.next
        // The cursor link carries our token: follow it only on the endpoint's own origin.
        if (url !== undefined && new URL(url, base).origin !== base.origin) {
          throw new OriginError(`${what}: the next page is on another host (${new URL(url, base).host})`)
        }
        if (url !== undefined) url = new URL(url, base).href
      }
      return out
    }
  }
}

/** fetch says only "fetch failed"; the socket's code is in its cause. */
function unreachable (what: string, endpoint: string, err: Error): Error {
  if (err.name === 'AbortError') return err
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  return new OriginError(`${what}: cannot reach the hub at ${endpoint} (${cause?.code ?? cause?.message ?? err.message}; set HF_ENDPOINT for a mirror)`,
    { cause: err, retryable: isTransient(cause) })
}

/** 401 and 403 say what to do about it: the Hub answers 401 for private and missing repos alike. */
function hubStatusError (what: string, status: number, retryAfterMs?: number): Error {
  if (status === 401 || status === 403) {
    return new OriginError(`${what}: HTTP ${status} from the hub (a private or gated repo needs a token: HF_TOKEN or --hf-token; or the repo does not exist)`, { status })
  }
  if (status === 404) return new OriginError(`${what}: not found on the hub (HTTP 404): no such repo, revision or path`, { status })
  return statusError(what, status, retryAfterMs)
}

/** The `rel="next"` target of a Link header (RFC 8288), as the Hub pages its tree listing. */
export function nextLink (link: string | null): string | undefined {
  if (link == null) return undefined
  for (const part of link.split(',')) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim())
    if (m != null && /\brel\s*=\s*"?next"?/i.test(m[2])) return m[1]
  }
  return undefined
}
