/**
 * Renders the Kubernetes manifests from values (docs/kubernetes.md): the
 * files under deploy/kubernetes/base and deploy/kubernetes/monitoring are
 * this function's output for the defaults, and test/deploy/kubernetes.test.ts
 * fails when they drift. Typed with kubernetes-models' interfaces, so a
 * misspelt field is a compile error before the schema check at test time.
 *
 *   npm run build && node dist/deploy/kubernetes/render.js [values.yaml] [--out DIR]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parse, stringify } from 'yaml'
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole'
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding'
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet'
import type { IProbe } from 'kubernetes-models/v1/Probe'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IService } from 'kubernetes-models/v1/Service'
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { resolveValues, type Values } from './values.js'

/** Where the containers see things; the host paths come from the values. */
export const PATHS = {
  data: '/var/lib/starling',
  run: '/run/starling',
  certsDir: '/host/containerd-certs.d',
  swarmKey: '/etc/starling/swarm-key',
  serviceAccount: '/var/run/secrets/kubernetes.io/serviceaccount'
} as const
/** Written by the location init container, read by the daemon as its config file. */
export const LOCATION_CONFIG = `${PATHS.run}/location.yaml`
/** The token of the location init container expires and is not refreshed: it runs once, for seconds. */
const TOKEN_SECONDS = 600

export interface RenderedFile { path: string, docs: object[] }

const labelsOf = (v: Values): Record<string, string> => ({ 'app.kubernetes.io/name': v.name, 'app.kubernetes.io/component': 'swarm' })
export const peersService = (v: Values): string => `${v.name}-peers`
/** The headless Service's cluster DNS name: its A records are every pod's IP. */
export const peersDnsName = (v: Values): string => `${peersService(v)}.${v.namespace}.svc.cluster.local`

/** Pod Security "privileged": host networking and hostPath volumes are refused at "baseline". */
function namespace (v: Values): INamespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: v.namespace, labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } }
  }
}

/** Read access to nodes (their labels), for the location init container; nothing else. */
function rbac (v: Values): Array<IServiceAccount | IClusterRole | IClusterRoleBinding> {
  const meta = { name: v.name, namespace: v.namespace, labels: labelsOf(v) }
  const role = `${v.namespace}-${v.name}-node-reader`
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta, automountServiceAccountToken: false },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: role, labels: labelsOf(v) },
      rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role, labels: labelsOf(v) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: v.name, namespace: v.namespace }]
    }
  ]
}

/**
 * Headless: its DNS name resolves to every pod, which is how nodes find each
 * other (`--bootstrap-dns`). Not-ready pods are listed too: readiness must
 * not decide who may join, or the first pods could never meet.
 */
function service (v: Values): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: peersService(v), namespace: v.namespace, labels: labelsOf(v) },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: labelsOf(v),
      ports: [
        { name: 'p2p', port: v.ports.p2p, targetPort: 'p2p', protocol: 'TCP' },
        { name: 'metrics', port: v.ports.metrics, targetPort: 'metrics', protocol: 'TCP' }
      ]
    }
  }
}

/** The `starling containerd-config` arguments of the init container. */
export function containerdConfigArgs (v: Values): string[] {
  const registries = Object.keys(v.registries).flatMap(r => ['--registry', r])
  const servers = Object.entries(v.registries).flatMap(([r, u]) => ['--server', `${r}=${u}`])
  return ['containerd-config', '--mirror', `http://127.0.0.1:${v.ports.mirror}`, ...registries, '--registry', '_default', ...servers, '--dir', PATHS.certsDir]
}

/** The `starling daemon` arguments; $(POD_IP) is expanded by the kubelet from the env. */
export function daemonArgs (v: Values): string[] {
  return [
    'daemon',
    ...(v.locationLabels.length > 0 ? ['--config', LOCATION_CONFIG] : []),
    '--listen', `/ip4/0.0.0.0/tcp/${v.ports.p2p}`,
    '--bootstrap-dns', `${peersDnsName(v)}:${v.ports.p2p}`,
    '--registry', `127.0.0.1:${v.ports.mirror}`,
    ...Object.entries(v.registries).flatMap(([r, u]) => ['--registry-upstream', `${r}=${u}`]),
    '--metrics', `$(POD_IP):${v.ports.metrics}`,
    '--cache-size', v.cacheSize,
    ...(v.swarmKeySecret != null ? ['--swarm-key', `${PATHS.swarmKey}/swarm.key`] : [])
  ]
}

const dropAll = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }

function daemonSet (v: Values): IDaemonSet {
  const image = `${v.image.repository}:${v.image.tag}`
  const probe = (path: string, periodSeconds: number, failureThreshold: number): IProbe =>
    ({ httpGet: { path, port: 'metrics' }, periodSeconds, failureThreshold, timeoutSeconds: 5 })
  const location = v.locationLabels.length === 0
    ? []
    : [{
        name: 'location',
        image,
        imagePullPolicy: v.image.pullPolicy,
        args: ['kube-location', '--node', '$(NODE_NAME)', ...v.locationLabels.flatMap(l => ['--label', l]), '--out', LOCATION_CONFIG],
        env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
        volumeMounts: [{ name: 'run', mountPath: PATHS.run }, { name: 'kube-api-access', mountPath: PATHS.serviceAccount, readOnly: true }],
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
        securityContext: dropAll
      }]
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: v.name, namespace: v.namespace, labels: labelsOf(v) },
    spec: {
      selector: { matchLabels: labelsOf(v) },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: labelsOf(v) },
        spec: {
          serviceAccountName: v.name,
          // Only the location init container gets an API token (the projected volume below), never the daemon.
          automountServiceAccountToken: false,
          // containerd reaches the mirror on the node's loopback; peers reach libp2p on the node's IP.
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          // A mirror helps every node, tainted ones too; a missing one only means pulls go upstream.
          tolerations: [{ operator: 'Exists' }],
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: v.runAsUser,
            runAsGroup: v.runAsUser,
            fsGroup: v.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' }
          },
          initContainers: [
            ...location,
            {
              name: 'containerd-config',
              image,
              imagePullPolicy: v.image.pullPolicy,
              args: containerdConfigArgs(v),
              volumeMounts: [{ name: 'containerd-certs', mountPath: PATHS.certsDir }],
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
              // The host's certs.d belongs to root: this one step writes there as uid 0, with no capability.
              securityContext: { ...dropAll, runAsNonRoot: false, runAsUser: 0, runAsGroup: 0 }
            }
          ],
          containers: [{
            name: 'starling',
            image,
            imagePullPolicy: v.image.pullPolicy,
            args: daemonArgs(v),
            env: [
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              // Also where `kubectl exec … starling stat` finds the API token.
              { name: 'STARLING_DATA_DIR', value: PATHS.data },
              { name: 'STARLING_RUNTIME_DIR', value: PATHS.run }
            ],
            ports: [
              { name: 'p2p', containerPort: v.ports.p2p, hostPort: v.ports.p2p, protocol: 'TCP' },
              { name: 'mirror', containerPort: v.ports.mirror, hostPort: v.ports.mirror, protocol: 'TCP' },
              { name: 'metrics', containerPort: v.ports.metrics, hostPort: v.ports.metrics, protocol: 'TCP' }
            ],
            startupProbe: probe('/healthz', 2, 60),
            livenessProbe: probe('/healthz', 10, 3),
            readinessProbe: probe('/readyz', 5, 3),
            resources: {
              requests: { cpu: v.resources.requests.cpu, memory: v.resources.requests.memory },
              // No CPU limit: throttling stalls transfers and probes; the request is what scheduling needs.
              limits: { memory: v.resources.limits.memory }
            },
            securityContext: dropAll,
            volumeMounts: [
              { name: 'data', mountPath: PATHS.data },
              { name: 'run', mountPath: PATHS.run },
              ...(v.swarmKeySecret != null ? [{ name: 'swarm-key', mountPath: PATHS.swarmKey, readOnly: true }] : [])
            ]
          }],
          volumes: [
            v.storage.hostPath != null
              ? { name: 'data', hostPath: { path: v.storage.hostPath, type: 'DirectoryOrCreate' } }
              : { name: 'data', emptyDir: { sizeLimit: v.storage.sizeLimit } },
            { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
            { name: 'containerd-certs', hostPath: { path: v.containerdCertsDir, type: 'DirectoryOrCreate' } },
            ...(v.swarmKeySecret != null ? [{ name: 'swarm-key', secret: { secretName: v.swarmKeySecret, defaultMode: 0o440 } }] : []),
            ...(v.locationLabels.length > 0
              ? [{
                  name: 'kube-api-access',
                  projected: {
                    sources: [
                      { serviceAccountToken: { path: 'token', expirationSeconds: TOKEN_SECONDS } },
                      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }
                    ]
                  }
                }]
              : [])
          ]
        }
      }
    }
  }
}

function serviceMonitor (v: Values): IServiceMonitor {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: v.name, namespace: v.namespace, labels: { ...labelsOf(v), ...v.serviceMonitor.labels } },
    spec: {
      selector: { matchLabels: labelsOf(v) },
      namespaceSelector: { matchNames: [v.namespace] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: v.serviceMonitor.interval, scheme: 'http' }]
    }
  }
}

/** Every file of the deployment: base/ (apply alone) and monitoring/ (base plus the ServiceMonitor, for clusters with the Prometheus operator). */
export function renderManifests (v: Values): RenderedFile[] {
  return [
    { path: 'base/namespace.yaml', docs: [namespace(v)] },
    { path: 'base/rbac.yaml', docs: rbac(v) },
    { path: 'base/service.yaml', docs: [service(v)] },
    { path: 'base/daemonset.yaml', docs: [daemonSet(v)] },
    {
      path: 'base/kustomization.yaml',
      docs: [{ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['namespace.yaml', 'rbac.yaml', 'service.yaml', 'daemonset.yaml'] }]
    },
    { path: 'monitoring/servicemonitor.yaml', docs: [serviceMonitor(v)] },
    {
      path: 'monitoring/kustomization.yaml',
      docs: [{ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['../base', 'servicemonitor.yaml'] }]
    }
  ]
}

const HEADER = '# Rendered by deploy/kubernetes/render.ts from its default values; edit the renderer or render your own (docs/kubernetes.md).\n'

export function toYaml (file: RenderedFile): string {
  return HEADER + file.docs.map(d => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')
}

async function main (argv: string[]): Promise<void> {
  const outAt = argv.indexOf('--out')
  const out = outAt >= 0 ? argv[outAt + 1] : undefined
  const valuesFile = argv.find((a, i) => !a.startsWith('--') && i !== outAt + 1)
  const values = resolveValues(valuesFile == null ? {} : parse(await readFile(valuesFile, 'utf8')))
  for (const f of renderManifests(values)) {
    if (out == null) {
      process.stdout.write(`# ${f.path}\n${toYaml(f)}---\n`)
      continue
    }
    await mkdir(join(out, f.path, '..'), { recursive: true })
    await writeFile(join(out, f.path), toYaml(f))
  }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`render: ${err.message}\n`)
    process.exit(err.name === 'ValuesError' ? 2 : 1)
  })
}
