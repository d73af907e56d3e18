/**
 * `starling kube-location` against a stand-in for the Kubernetes API server:
 * HTTPS with a CA made here by openssl, a bearer token, `GET
 * /api/v1/nodes/<name>` answering a Node object. The CLI runs as a process,
 * as the DaemonSet's init container runs it, and the file it writes is
 * loaded as the daemon's config.
 */
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/daemon/config.js'
import { removeDir, runCli, tempDir } from './helpers.js'

const TOKEN = 'test-token-of-the-service-account'
const NODES: Record<string, Record<string, string>> = {
  'node-a': { 'topology.kubernetes.io/region': 'eu-west-1', 'topology.kubernetes.io/zone': 'eu-west-1a', 'kubernetes.io/hostname': 'node-a' },
  'node-bare': { 'kubernetes.io/hostname': 'node-bare' }
}

let dir: string
let server: Server
let base: string
const requests: string[] = []

beforeAll(async () => {
  dir = await tempDir('starling-kube-')
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=kubernetes', '-addext', 'subjectAltName=IP:127.0.0.1'])
  await writeFile(join(dir, 'token'), `${TOKEN}\n`)
  server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`)
    const send = (status: number, body: object): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) { send(401, { kind: 'Status', code: 401, reason: 'Unauthorized' }); return }
    const m = /^\/api\/v1\/nodes\/([^/?]+)$/.exec(req.url ?? '')
    const labels = m == null ? undefined : NODES[decodeURIComponent(m[1])]
    if (labels == null) { send(404, { kind: 'Status', code: 404, reason: 'NotFound' }); return }
    send(200, { apiVersion: 'v1', kind: 'Node', metadata: { name: m?.[1], labels }, spec: {}, status: {} })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`
})

afterAll(async () => {
  await new Promise(resolve => server?.close(resolve))
  await removeDir(dir)
})

const creds = (): string[] => ['--token-file', join(dir, 'token'), '--ca-file', join(dir, 'cert.pem')]

describe('starling kube-location', () => {
  it('writes region/zone from the node\'s labels as a config file the daemon loads', async () => {
    const out = join(dir, 'location.yaml')
    const r = await runCli(['kube-location', '--node', 'node-a', '--server', base, ...creds(), '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('eu-west-1/eu-west-1a')
    expect(requests).toContain('GET /api/v1/nodes/node-a')
    const config = await loadConfig({ file: out, env: {} })
    expect(config.location).toBe('eu-west-1/eu-west-1a')
  })

  it('finds the API server from KUBERNETES_SERVICE_HOST/PORT, as in a pod, and takes other labels in order', async () => {
    const port = base.slice(base.lastIndexOf(':') + 1)
    const r = await runCli(['--json', 'kube-location', '--node', 'node-a', ...creds(), '--label', 'topology.kubernetes.io/zone', '--label', 'kubernetes.io/hostname'], {
      env: { ...process.env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }
    })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ node: 'node-a', location: 'eu-west-1a/node-a' })
  })

  it('a node without the labels gets no location, said on stderr, and still a valid config', async () => {
    const out = join(dir, 'bare.yaml')
    const r = await runCli(['kube-location', '--node', 'node-bare', '--server', base, ...creds(), '--out', out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('no location')
    expect((await loadConfig({ file: out, env: {} })).location).toBe('')
  })

  it('fails with one line naming the cause: a refused token, an unknown node, an untrusted server', async () => {
    await writeFile(join(dir, 'wrong-token'), 'nope')
    const refused = await runCli(['kube-location', '--node', 'node-a', '--server', base, '--token-file', join(dir, 'wrong-token'), '--ca-file', join(dir, 'cert.pem')])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/401.*get on nodes/)

    const unknown = await runCli(['kube-location', '--node', 'node-z', '--server', base, ...creds()])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('no node named node-z')

    const untrusted = await runCli(['kube-location', '--node', 'node-a', '--server', base, '--token-file', join(dir, 'token'), '--ca-file', join(dir, 'absent.crt')])
    expect(untrusted.code).toBe(1)
    expect(untrusted.stderr).toMatch(/certificate/i)

    const outside = await runCli(['kube-location', '--node', 'node-a'], { env: { ...process.env, KUBERNETES_SERVICE_HOST: '' } })
    expect(outside.code).toBe(2)
    expect(outside.stderr).toContain('--server')
  })
})
