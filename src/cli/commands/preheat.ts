/**
 * `starling preheat IMAGE_REF [--platform os/arch]`: resolves the tag at the
 * upstream, walks an index or manifest, and pulls the config and every layer
 * into the swarm — through the daemon's own registry mirror, which stores
 * what it serves, so preheated content is exactly what containerd later asks for.
 */
import { formatBytes } from '../../daemon/size.js'
import { createClient } from '../client.js'
import { CliError, globals, print, type CliCommand } from '../context.js'

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json'
].join(', ')

export interface ImageRef { registry: string, repository: string, reference: string }

/** Docker-style reference: `alpine` → docker.io/library/alpine:latest; `host:5000/a/b@sha256:...`. */
export function parseImageRef (ref: string): ImageRef {
  let rest = ref
  let registry = 'docker.io'
  const slash = rest.indexOf('/')
  if (slash > 0) {
    const first = rest.slice(0, slash)
    if (first.includes('.') || first.includes(':') || first === 'localhost') { registry = first; rest = rest.slice(slash + 1) }
  }
  let reference = 'latest'
  const at = rest.indexOf('@')
  if (at >= 0) { reference = rest.slice(at + 1); rest = rest.slice(0, at) } else {
    const colon = rest.lastIndexOf(':')
    if (colon > 0) { reference = rest.slice(colon + 1); rest = rest.slice(0, colon) }
  }
  if (registry === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`
  if (rest === '') throw new CliError(`not an image reference: ${ref}`, 2)
  return { registry, repository: rest, reference }
}

export interface PreheatOptions {
  mirror: string
  ref: string
  platform?: string
  authorization?: string
  signal?: AbortSignal
  onBlob?: (e: { digest: string, kind: string, bytes: number, index: number, total: number }) => void
}

export interface PreheatResult { manifest: string, blobs: Array<{ digest: string, size: number }>, bytes: number }

export async function preheat (o: PreheatOptions): Promise<PreheatResult> {
  const ref = parseImageRef(o.ref)
  const base = o.mirror.replace(/\/$/, '')
  const q = `?ns=${encodeURIComponent(ref.registry)}`
  const headers: Record<string, string> = o.authorization == null ? {} : { authorization: o.authorization }
  const get = async (kind: 'manifests' | 'blobs', reference: string, accept?: string): Promise<Response> => {
    const res = await fetch(`${base}/v2/${ref.repository}/${kind}/${reference}${q}`, { headers: { ...headers, ...(accept == null ? {} : { accept }) }, signal: o.signal })
    if (!res.ok) {
      const body = await res.text().catch(() => '')
      throw new CliError(`${kind} ${reference}: HTTP ${res.status} from the mirror ${body.slice(0, 200)}`)
    }
    return res
  }
  let res = await get('manifests', ref.reference, ACCEPT)
  let digest = res.headers.get('docker-content-digest') ?? ref.reference
  let manifest = await res.json() as { manifests?: Array<{ digest: string, platform?: { os: string, architecture: string, variant?: string } }>, config?: { digest: string, size: number }, layers?: Array<{ digest: string, size: number }> }
  if (Array.isArray(manifest.manifests)) {
    const [os, arch, variant] = (o.platform ?? `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`).split('/')
    const pick = manifest.manifests.find(m => m.platform?.os === os && m.platform.architecture === arch && (variant == null || m.platform.variant === variant))
    if (pick == null) throw new CliError(`no ${o.platform ?? `${os}/${arch}`} image in ${o.ref}`)
    digest = pick.digest
    res = await get('manifests', pick.digest, ACCEPT)
    manifest = await res.json() as typeof manifest
  }
  if (manifest.config == null || !Array.isArray(manifest.layers)) throw new CliError(`${o.ref}: not an image manifest`)
  const blobs = [manifest.config, ...manifest.layers]
  let bytes = 0
  for (const [i, b] of blobs.entries()) {
    const r = await get('blobs', b.digest)
    let n = 0
    // Reading the body through the mirror is what puts it in the swarm; the bytes themselves are dropped.
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) n += chunk.byteLength
    if (n !== b.size) throw new CliError(`${b.digest}: got ${n} bytes, expected ${b.size}`)
    bytes += n
    o.onBlob?.({ digest: b.digest, kind: i === 0 ? 'config' : 'layer', bytes: n, index: i + 1, total: blobs.length })
  }
  return { manifest: digest, blobs: blobs.map(b => ({ digest: b.digest, size: b.size })), bytes }
}

export const preheatCommand: CliCommand = (program, ctx) => {
  program.command('preheat <image>')
    .description('pull an image\'s config and layers into the swarm through the daemon\'s registry mirror')
    .option('--platform <os/arch>', 'platform to pick from a multi-platform index (default: this machine)')
    .option('--mirror <url>', 'registry mirror URL (default: the daemon\'s, from its API)')
    .option('--user <user:password>', 'credentials for a private repository')
    .action(async (image: string, opts: { platform?: string, mirror?: string, user?: string }, cmd) => {
      const g = globals(cmd)
      let mirror = opts.mirror
      if (mirror == null) {
        const info = await createClient(g, ctx).json<{ registry?: string | null }>('GET', '/api/v1/info')
        if (info.registry == null) throw new CliError('the daemon runs no registry mirror (start it with --registry HOST:PORT, or pass --mirror)', 2)
        mirror = info.registry
      }
      const authorization = opts.user == null ? undefined : `Basic ${Buffer.from(opts.user).toString('base64')}`
      const quiet = g.json === true || ctx.stderr.isTTY !== true
      const r = await preheat({
        mirror, ref: image, platform: opts.platform, authorization,
        onBlob: (e) => { if (!quiet) ctx.stderr.write(`[${e.index}/${e.total}] ${e.kind} ${e.digest.slice(0, 19)} ${formatBytes(e.bytes)}\n`) }
      })
      print(ctx, g, r, () => `preheated ${image} (${r.manifest}): ${r.blobs.length} blobs, ${formatBytes(r.bytes)}`)
    })
}
