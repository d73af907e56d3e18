/**
 * `starling kube-location`: reads this node's topology labels from the
 * Kubernetes API and writes them as a daemon config file (`location: …`).
 * The Downward API exposes a pod's own labels, not its node's, so the
 * DaemonSet's init container asks the API server with a token that may only
 * `get nodes` (docs/kubernetes.md#location).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { CliError, globals, print, type CliCommand, type CliContext } from '../context.js'

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'
export const DEFAULT_LABELS = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone']
/** One GET; the kubelet restarts a failed init container with its own back-off. */
const REQUEST_TIMEOUT_MS = 15_000
/** The daemon's `location` syntax (src/daemon/config.ts). */
const LOCATION_SEGMENT = /^[A-Za-z0-9._-]+$/

interface Opts { node: string, label?: string[], out?: string, server?: string, tokenFile: string, caFile: string }

/** The location label from a node's labels: the values of `keys` that are set, joined with `/`. */
export function locationFromLabels (labels: Record<string, string>, keys: string[]): string {
  const parts: string[] = []
  for (const k of keys) {
    const v = labels[k]
    if (v == null || v === '') continue
    if (!LOCATION_SEGMENT.test(v)) throw new CliError(`node label ${k}=${JSON.stringify(v)} cannot be part of a location (letters, digits, . _ -)`)
    parts.push(v)
  }
  return parts.join('/')
}

function inClusterServer (env: NodeJS.ProcessEnv): string {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT ?? '443'
  if (host == null || host === '') throw new CliError('not in a cluster (no KUBERNETES_SERVICE_HOST): give --server URL', 2)
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`
}

async function readOptional (file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

async function nodeLabels (ctx: CliContext, o: Opts, signal: AbortSignal): Promise<Record<string, string>> {
  const server = (o.server ?? inClusterServer(ctx.env)).replace(/\/+$/, '')
  const token = (await readOptional(o.tokenFile))?.toString('utf8').trim()
  const ca = await readOptional(o.caFile)
  // Loaded here: other commands should not pay for undici.
  const { Agent, fetch } = await import('undici')
  const dispatcher = new Agent({ connect: ca == null ? {} : { ca } })
  const url = `${server}/api/v1/nodes/${encodeURIComponent(o.node)}`
  try {
    const res = await fetch(url, { headers: token == null ? {} : { authorization: `Bearer ${token}` }, dispatcher, signal })
    const body = await res.text()
    if (res.status === 401 || res.status === 403) {
      throw new CliError(`${url}: ${res.status}: the service account may not read nodes (it needs a ClusterRole with get on nodes)${token == null ? `; no token at ${o.tokenFile}` : ''}`)
    }
    if (res.status === 404) throw new CliError(`${url}: 404: no node named ${o.node}`)
    if (!res.ok) throw new CliError(`${url}: ${res.status}: ${body.slice(0, 200)}`)
    const labels = (JSON.parse(body) as { metadata?: { labels?: unknown } }).metadata?.labels
    return typeof labels === 'object' && labels != null ? labels as Record<string, string> : {}
  } catch (err) {
    if (err instanceof CliError) throw err
    const cause = (err as { cause?: Error }).cause
    throw new CliError(`${url}: ${cause?.message ?? (err as Error).message}`)
  } finally {
    await dispatcher.close()
  }
}

export const kubeLocationCommand: CliCommand = (program, ctx) => {
  program.command('kube-location')
    .description('write this Kubernetes node\'s topology labels as a daemon config file (location: region/zone)')
    .requiredOption('--node <name>', 'the node (fieldRef spec.nodeName)')
    .option('--label <key...>', `node labels joined into the location, in order (default ${DEFAULT_LABELS.join(' ')})`)
    .option('--out <file>', 'config file to write (default: print the location only)')
    .option('--server <url>', 'API server (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)')
    .option('--token-file <file>', 'bearer token', `${SERVICE_ACCOUNT_DIR}/token`)
    .option('--ca-file <file>', 'CA of the API server', `${SERVICE_ACCOUNT_DIR}/ca.crt`)
    .action(async (o: Opts, cmd) => {
      const labels = await nodeLabels(ctx, o, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
      const keys = o.label ?? DEFAULT_LABELS
      const location = locationFromLabels(labels, keys)
      if (location === '') ctx.stderr.write(`starling: node ${o.node} has none of the labels ${keys.join(', ')}: no location\n`)
      if (o.out != null) {
        await writeFile(`${o.out}.tmp`, `# written by starling kube-location from node ${o.node}\nlocation: ${JSON.stringify(location)}\n`)
        await rename(`${o.out}.tmp`, o.out)
      }
      print(ctx, globals(cmd), { node: o.node, location }, () => location)
    })
}
