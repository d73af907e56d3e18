/**
 * Turning upstream and node failures into answers a puller can act on:
 * auth refusals are relayed (so containerd can fetch a token and retry),
 * everything else becomes a fast 404/500 so it falls back to the upstream.
 */
import type { ServerResponse } from 'node:http'
import { challengeOf } from '../origin/oci.js'
import type { OriginInfo } from '../origin/types.js'
import type { MirrorContext, Upstream } from './context.js'
import { sendOciError, type OciErrorCode } from './oci-errors.js'

export function sendFailure (res: ServerResponse, err: unknown, unknownCode: OciErrorCode, head: boolean): void {
  const status = (err as { status?: number } | null)?.status
  const name = (err as Error | null)?.name
  if (status === 401) {
    const challenge = challengeOf(err)
    sendOciError(res, 'UNAUTHORIZED', 'authentication required by the upstream registry', { headers: challenge == null ? {} : { 'www-authenticate': challenge }, head })
  } else if (status === 403 || name === 'AccessDeniedError') {
    sendOciError(res, 'DENIED', 'the upstream registry denies access', { head })
  } else if (status === 404 || status === 410 || name === 'NoSourceError' || name === 'NotFoundError') {
    sendOciError(res, unknownCode, 'not found upstream or in the swarm', { head })
  } else if (name === 'StoreFullError') {
    // the mirror's own disk is full: 507, not an upstream problem
    sendOciError(res, 'UNAVAILABLE', `mirror store is full: ${(err as Error).message}`, { status: 507, head })
  } else if (name === 'InvalidDigestError') {
    sendOciError(res, 'DIGEST_INVALID', 'invalid digest', { head })
  } else {
    sendOciError(res, 'UNAVAILABLE', `mirror could not serve: ${(err as Error)?.message ?? String(err)}`, { head })
  }
}

/**
 * Asks the upstream, with the caller's credentials, whether the caller may
 * read the content. Returns what the upstream said about it (its size), or
 * throws the refusal.
 */
export async function checkAccess (ctx: MirrorContext, up: Upstream, repository: string, digest: string, auth: string | undefined, signal: AbortSignal): Promise<OriginInfo | undefined> {
  if (!ctx.needsAccessCheck(up, auth)) return undefined
  const info = await ctx.checker(up, repository, digest, auth).stat({ signal })
  if (auth == null) ctx.markOpen(up)
  return info
}
