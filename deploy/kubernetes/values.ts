/**
 * The knobs of the Kubernetes deployment (docs/kubernetes.md), as a Helm
 * chart's values.yaml would hold them: defaults here, a user's YAML file
 * merged over them and checked by one strict schema, so a misspelt key is
 * an error that names it rather than a setting silently ignored.
 */
import { z } from 'zod'

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a Kubernetes name: lower-case letters, digits and -')
const port = z.number().int().min(1).max(65535)
const quantity = z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'expected a Kubernetes quantity such as 128Mi or 100m')
const registryName = z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'expected a registry host such as docker.io or registry.example.com:5000')
const url = z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL')

export const valuesSchema = z.strictObject({
  /** Namespace of every namespaced object; the Namespace object itself is rendered too. */
  namespace: name,
  /** Prefix of every object's name and the app label. */
  name,
  image: z.strictObject({
    repository: z.string().min(1),
    tag: z.string().min(1),
    pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never'])
  }),
  ports: z.strictObject({
    /** libp2p TCP port, the same on every node (the DNS bootstrap dials it). */
    p2p: port,
    /** Registry mirror, bound to the host's loopback only: containerd on the node is its one client. */
    mirror: port,
    /** /healthz, /readyz and /metrics on the pod IP (the node's IP with host networking). */
    metrics: port
  }),
  /** Registries the mirror serves (name → upstream URL); containerd is pointed at each, and at `_default`. */
  registries: z.record(registryName, url),
  /** containerd's hosts folder on the node (its CRI `config_path`). */
  containerdCertsDir: z.string().regex(/^\/\S*$/, 'expected an absolute path'),
  /** Secret holding `swarm.key` (make it with `starling keygen`); null for an open swarm. */
  swarmKeySecret: name.nullable(),
  /** Node labels joined with `/` into the location (`region/zone`); empty for no location. */
  locationLabels: z.array(z.string().min(1)),
  cacheSize: z.string().regex(/^\d+(\.\d+)?\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/, 'expected a size such as 8GiB'),
  /** Where the store lives: an emptyDir (gone with the pod) unless a host folder is named. */
  storage: z.strictObject({
    hostPath: z.string().regex(/^\/\S*$/, 'expected an absolute path').nullable(),
    /** emptyDir limit: the kubelet evicts the pod past it, so it sits above cacheSize. */
    sizeLimit: quantity
  }),
  resources: z.strictObject({
    requests: z.strictObject({ cpu: quantity, memory: quantity }),
    limits: z.strictObject({ memory: quantity })
  }),
  /** uid/gid the daemon runs as. */
  runAsUser: z.number().int().min(1),
  serviceMonitor: z.strictObject({
    interval: z.string().regex(/^\d+(ms|s|m|h)$/, 'expected a duration such as 30s'),
    /** Labels a Prometheus' serviceMonitorSelector looks for, e.g. {release: kube-prometheus-stack}. */
    labels: z.record(z.string(), z.string())
  })
})

export type Values = z.infer<typeof valuesSchema>

export const DEFAULT_VALUES: Values = {
  namespace: 'starling',
  name: 'starling',
  image: { repository: 'starling', tag: '0.1.0', pullPolicy: 'IfNotPresent' },
  ports: { p2p: 7480, mirror: 5050, metrics: 7484 },
  registries: { 'docker.io': 'https://registry-1.docker.io' },
  containerdCertsDir: '/etc/containerd/certs.d',
  swarmKeySecret: 'starling-swarm-key',
  locationLabels: ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone'],
  cacheSize: '8GiB',
  storage: { hostPath: null, sizeLimit: '10Gi' },
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } },
  runAsUser: 65532,
  serviceMonitor: { interval: '30s', labels: {} }
}

export class ValuesError extends Error {
  override name = 'ValuesError'
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v != null && !Array.isArray(v)
}

/** Objects merge key by key; anything else (lists included) replaces, as Helm merges values. */
function merge (base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? merge(base[k], v) : v
  return out
}

/** The defaults with `overrides` (a parsed values file) merged over them; ValuesError names the first bad key. */
export function resolveValues (overrides: unknown = {}): Values {
  if (overrides != null && !isObject(overrides)) throw new ValuesError('values: expected a mapping of keys at the top level')
  const r = valuesSchema.safeParse(merge(DEFAULT_VALUES, overrides ?? {}))
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const where = issue.path.map(String).join('.')
  const keys = issue.code === 'unrecognized_keys' ? `: unknown key ${issue.keys.join(', ')}` : `: ${issue.message}`
  throw new ValuesError(`values${where === '' ? '' : ` ${where}`}${keys}`)
}
