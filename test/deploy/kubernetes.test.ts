/**
 * The Kubernetes deployment (deploy/kubernetes, docs/kubernetes.md): the
 * committed manifests are what the renderer gives for its defaults; every
 * object passes the Kubernetes schemas (kubernetes-models: ajv validators
 * generated from the Kubernetes OpenAPI and the prometheus-operator CRDs),
 * and broken copies do not; the init container's `starling containerd-config`
 * writes, by the real CLI, the hosts.toml files it prints, pointing at the
 * daemon's mirror; and the daemon container's exact arguments start a real
 * daemon whose probes and mirror answer.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet'
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole'
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { LOCATION_CONFIG, PATHS, renderManifests, toYaml } from '../../deploy/kubernetes/render.js'
import { DEFAULT_VALUES, resolveValues } from '../../deploy/kubernetes/values.js'
import { BIN, ROOT, removeDir, runCli, tempDir } from '../cli/helpers.js'

const DEPLOY = join(ROOT, 'deploy', 'kubernetes')

/** apiVersion/kind → the generated schema validator; a kind missing here fails the test. */
const VALIDATORS: Record<string, new (data: any) => { validate: () => void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor
}

/** Undefined when valid, else the schema's complaint. */
function schemaError (doc: any): string | undefined {
  const Model = VALIDATORS[`${String(doc?.apiVersion)}/${String(doc?.kind)}`]
  if (Model == null) return `no schema for ${String(doc?.apiVersion)} ${String(doc?.kind)}`
  try {
    new Model(doc).validate()
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

async function committedDocs (): Promise<Array<{ path: string, doc: any }>> {
  const out: Array<{ path: string, doc: any }> = []
  for (const f of renderManifests(DEFAULT_VALUES)) {
    if (f.path.endsWith('kustomization.yaml')) continue
    for (const d of parseAllDocuments(await readFile(join(DEPLOY, f.path), 'utf8'))) out.push({ path: f.path, doc: d.toJS() })
  }
  return out
}

const daemonSetOf = (docs: Array<{ doc: any }>): any => docs.find(d => d.doc.kind === 'DaemonSet')?.doc
const argAfter = (args: string[], flag: string): string => {
  const i = args.indexOf(flag)
  expect(i, `${flag} in ${args.join(' ')}`).toBeGreaterThanOrEqual(0)
  return args[i + 1]
}

describe('the manifests', () => {
  it('committed files are the renderer\'s output for the default values (re-render with: node dist/deploy/kubernetes/render.js --out deploy/kubernetes)', async () => {
    for (const f of renderManifests(DEFAULT_VALUES)) {
      expect(await readFile(join(DEPLOY, f.path), 'utf8'), f.path).toBe(toYaml(f))
    }
  })

  it('every object passes the Kubernetes (and prometheus-operator) schema of its kind', async () => {
    const docs = await committedDocs()
    expect(docs.map(d => d.doc.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'Namespace', 'Service', 'ServiceAccount', 'ServiceMonitor'])
    for (const { path, doc } of docs) expect(schemaError(doc), `${path} ${String(doc.kind)}`).toBeUndefined()
  })

  it('other values render valid objects too (hostPath store, open swarm, no location, other ports)', () => {
    const v = resolveValues({ storage: { hostPath: '/var/lib/starling' }, swarmKeySecret: null, locationLabels: [], ports: { p2p: 4001 }, registries: { 'ghcr.io': 'https://ghcr.io' } })
    const docs = renderManifests(v).filter(f => !f.path.endsWith('kustomization.yaml')).flatMap(f => f.docs)
    for (const doc of docs) expect(schemaError(doc)).toBeUndefined()
    const ds = docs.find((d: any) => d.kind === 'DaemonSet') as any
    expect(ds.spec.template.spec.initContainers.map((c: any) => c.name)).toEqual(['containerd-config'])
    expect(ds.spec.template.spec.volumes.find((x: any) => x.name === 'data').hostPath.path).toBe('/var/lib/starling')
    expect(ds.spec.template.spec.containers[0].args).not.toContain('--swarm-key')
  })

  it.each([
    ['a port given as a word', (ds: any) => { ds.spec.template.spec.containers[0].ports[0].containerPort = 'p2p' }, /containerPort must be integer/],
    ['a DaemonSet without its selector', (ds: any) => { delete ds.spec.selector }, /selector/],
    ['a container without a name', (ds: any) => { delete ds.spec.template.spec.containers[0].name }, /name/],
    ['a probe with a bad path type', (ds: any) => { ds.spec.template.spec.containers[0].livenessProbe.httpGet.path = 42 }, /path must be string/],
    ['an env var without its name', (ds: any) => { delete ds.spec.template.spec.containers[0].env[0].name }, /name/]
  ])('rejects a mutated DaemonSet: %s', async (_what, mutate, message) => {
    const ds = structuredClone(daemonSetOf(await committedDocs()))
    mutate(ds)
    expect(schemaError(ds)).toMatch(message)
  })

  it('rejects a mutated ServiceMonitor (an interval that is no duration) and an unknown kind', async () => {
    const sm = structuredClone((await committedDocs()).find(d => d.doc.kind === 'ServiceMonitor')?.doc)
    sm.spec.endpoints[0].interval = 'often'
    expect(schemaError(sm)).toMatch(/interval must match pattern/)
    expect(schemaError({ apiVersion: 'apps/v1', kind: 'DeamonSet' })).toMatch(/no schema/)
  })

  it('refuses bad values with the key named', () => {
    expect(() => resolveValues({ prots: {} })).toThrow(/unknown key prots/)
    expect(() => resolveValues({ ports: { p2p: 'x' } })).toThrow(/values ports\.p2p/)
    expect(() => resolveValues({ resources: { limits: { memory: '128 megs' } } })).toThrow(/resources\.limits\.memory/)
  })

  it('hangs together: ports, volumes, the Service, the probes and the ServiceMonitor name what exists', async () => {
    const docs = await committedDocs()
    const ds = daemonSetOf(docs)
    const pod = ds.spec.template.spec
    const [daemon] = pod.containers
    const ports = new Map<string, number>(daemon.ports.map((p: any) => [p.name, p.containerPort]))
    const volumes = new Set(pod.volumes.map((v: any) => v.name))
    for (const c of [...pod.initContainers, ...pod.containers]) for (const m of c.volumeMounts) expect(volumes, `${c.name} mounts ${m.name}`).toContain(m.name)
    for (const probe of [daemon.startupProbe, daemon.livenessProbe, daemon.readinessProbe]) expect(ports.has(probe.httpGet.port)).toBe(true)
    expect(daemon.readinessProbe.httpGet.path).toBe('/readyz')
    expect(daemon.resources.limits.memory).toBe('128Mi')
    expect(pod.hostNetwork).toBe(true)
    expect(pod.securityContext.runAsNonRoot).toBe(true)
    expect(daemon.securityContext.capabilities.drop).toEqual(['ALL'])
    // only the location step gets an API token
    expect(pod.automountServiceAccountToken).toBe(false)
    expect(pod.containers.some((c: any) => c.volumeMounts.some((m: any) => m.name === 'kube-api-access'))).toBe(false)

    const svc = docs.find(d => d.doc.kind === 'Service')?.doc
    expect(svc.spec.clusterIP).toBe('None')
    expect(svc.spec.publishNotReadyAddresses).toBe(true)
    expect(svc.spec.selector).toEqual(ds.spec.template.metadata.labels)
    for (const p of svc.spec.ports) expect(ports.get(p.targetPort)).toBe(p.port)
    expect(argAfter(daemon.args, '--bootstrap-dns')).toBe(`${String(svc.metadata.name)}.${String(svc.metadata.namespace)}.svc.cluster.local:${ports.get('p2p') ?? 0}`)
    expect(argAfter(daemon.args, '--metrics')).toBe(`$(POD_IP):${ports.get('metrics') ?? 0}`)

    const sm = docs.find(d => d.doc.kind === 'ServiceMonitor')?.doc
    expect(sm.spec.selector.matchLabels).toEqual(svc.metadata.labels)
    expect(svc.spec.ports.map((p: any) => p.name)).toContain(sm.spec.endpoints[0].port)

    const binding = docs.find(d => d.doc.kind === 'ClusterRoleBinding')?.doc
    const role = docs.find(d => d.doc.kind === 'ClusterRole')?.doc
    expect(binding.roleRef.name).toBe(role.metadata.name)
    expect(binding.subjects[0]).toMatchObject({ kind: 'ServiceAccount', name: pod.serviceAccountName })
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }])
  })

  const kubectl = (() => { try { execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' }); return true } catch { return false } })()
  it.skipIf(!kubectl)('kubectl kustomize builds the monitoring overlay into the same objects', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile('kubectl', ['kustomize', join(DEPLOY, 'monitoring')], (err, stdout, stderr) => { err == null ? resolve(stdout) : reject(new Error(stderr)) })
    })
    const built = parseAllDocuments(out).map(d => d.toJS()).sort((a, b) => `${String(a.kind)}`.localeCompare(String(b.kind)))
    const ours = (await committedDocs()).map(d => d.doc).sort((a, b) => `${String(a.kind)}`.localeCompare(String(b.kind)))
    expect(built).toEqual(ours)
  })
})

describe('the containers, run for real', () => {
  let dir: string
  beforeAll(async () => { dir = await tempDir('starling-k8s-') })
  afterAll(async () => { await removeDir(dir) })

  it('the containerd-config init container writes the hosts.toml files it prints, for _default too, pointing at the daemon\'s mirror', async () => {
    const pod = daemonSetOf(await committedDocs()).spec.template.spec
    const init = pod.initContainers.find((c: any) => c.name === 'containerd-config')
    const mount = init.volumeMounts[0]
    expect(pod.volumes.find((v: any) => v.name === mount.name).hostPath.path).toBe('/etc/containerd/certs.d')
    // The same arguments, the host folder played by a temp folder.
    const certs = join(dir, 'certs.d')
    const args = init.args.map((a: string) => a === mount.mountPath ? certs : a)
    const r = await runCli(args)
    expect(r.code, r.stderr).toBe(0)
    const mirror = `http://${argAfter(pod.containers[0].args, '--registry')}`
    for (const registry of ['docker.io', '_default']) {
      const path = join(certs, registry, 'hosts.toml')
      const written = await readFile(path, 'utf8')
      expect(r.stdout, `printed ${path}`).toContain(`wrote ${path}:\n${written}`)
      expect(written).toContain(`[host."${mirror}"]\n  capabilities = ["pull", "resolve"]`)
      if (registry === '_default') expect(written).not.toMatch(/^server =/m)
      else expect(written).toMatch(/^server = "https:\/\/registry-1\.docker\.io"$/m)
    }
  })

  it('the daemon container\'s arguments start a daemon whose probes, metrics and mirror answer', async () => {
    const free = async (): Promise<number> => await new Promise(resolve => {
      const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => { resolve(p) }) })
    })
    const ports = { p2p: await free(), mirror: await free(), metrics: await free() }
    const pod = (renderManifests(resolveValues({ ports })).find(f => f.path === 'base/daemonset.yaml')?.docs[0] as any).spec.template.spec
    const [container] = pod.containers
    // Paths of the pod's volumes → temp folders; the kubelet's $(POD_IP) → loopback; the cluster DNS name → localhost.
    const where: Record<string, string> = { [PATHS.data]: join(dir, 'data'), [PATHS.run]: join(dir, 'run'), [PATHS.swarmKey]: join(dir, 'key') }
    const local = (a: string): string => {
      for (const [from, to] of Object.entries(where)) if (a.startsWith(from)) return to + a.slice(from.length)
      return a.replace('$(POD_IP)', '127.0.0.1').replace(/^[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:/, 'localhost:')
    }
    await Promise.all([where[PATHS.run], where[PATHS.swarmKey]].map(async d => await mkdir(d, { recursive: true })))
    const keygen = await runCli(['keygen', local(`${PATHS.swarmKey}/swarm.key`)])
    expect(keygen.code, keygen.stderr).toBe(0)
    await writeFile(local(LOCATION_CONFIG), 'location: "eu-west-1/eu-west-1a"\n')
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const e of container.env) if (e.value != null) env[e.name] = local(e.value)
    const args = container.args.map(local)
    const proc = execFile(process.execPath, [BIN, ...args, '--api', '127.0.0.1:0'], { env })
    let log = ''
    proc.stderr?.on('data', d => { log = (log + String(d)).slice(-4000) })
    try {
      const metrics = `http://127.0.0.1:${ports.metrics}`
      await until(async () => (await fetch(`${metrics}${String(container.startupProbe.httpGet.path)}`).catch(() => undefined))?.status === 200, 60_000, () => `startup probe never 200; daemon log: ${log}`)
      expect((await fetch(`${metrics}${String(container.livenessProbe.httpGet.path)}`)).status).toBe(200)
      const ready = await fetch(`${metrics}${String(container.readinessProbe.httpGet.path)}`)
      expect(ready.status, await ready.clone().text()).toBe(200)
      expect(await (await fetch(`${metrics}/metrics`)).text()).toMatch(/^starling_/m)
      expect((await fetch(`http://127.0.0.1:${ports.mirror}/v2/`)).status).toBe(200)
      expect(log).toContain('"location":"eu-west-1/eu-west-1a"')
    } finally {
      if (proc.exitCode == null) {
        proc.kill('SIGTERM')
        await new Promise(resolve => proc.once('exit', resolve))
      }
    }
  }, 120_000)
})

async function until (check: () => Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(message())
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}
