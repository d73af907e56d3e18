/**
 * One Helia node for bench/compare, driven over stdin/stdout with JSON lines
 * (like test/fixtures/node-main.ts). bench/compare copies this file into its
 * Helia cache folder (~/.cache/starling-bench/helia) and runs it there, so
 * `helia` and `@helia/unixfs` resolve from that folder and never enter the
 * project's node_modules. Plain JavaScript: it is not compiled.
 *   node helia-peer.mjs DIR  -> {"event":"ready","addr":...}
 * stdin: {"id","cmd":"dial","addrs":[...]} | {"id","cmd":"import","url"} (fetches
 * the blob from the origin and adds it: answers {cid}) | {"id","cmd":"cat","cid","out"}
 * (fetches over bitswap, writes `out`, answers {sha256}) | {"id","cmd":"stop"}
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'

// Node 20 lacks Promise.withResolvers, which Helia's dependencies use
// (starling's own src/polyfill.ts does the same); imported after it.
if (Promise.withResolvers == null) {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
const { createHelia } = await import('helia')
const { unixfs } = await import('@helia/unixfs')
const { FsBlockstore } = await import('blockstore-fs')
const { FsDatastore } = await import('datastore-fs')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@chainsafe/libp2p-noise')
const { yamux } = await import('@libp2p/yamux')
const { identify } = await import('@libp2p/identify')
const { multiaddr } = await import('@multiformats/multiaddr')
const { CID } = await import('multiformats/cid')

const dir = process.argv[2]
const helia = createHelia({
  blockstore: new FsBlockstore(`${dir}/blocks`),
  datastore: new FsDatastore(`${dir}/data`),
  // loopback only: no public routers, gateways or bootstrap peers
  routers: [],
  libp2p: {
    config: 'replace',
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  }
})
await helia.start()
const fs = unixfs(helia)
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n')
send({ event: 'ready', addr: helia.libp2p.getMultiaddrs()[0].toString() })

async function handle (m) {
  switch (m.cmd) {
    case 'dial':
      await Promise.all(m.addrs.map(async a => { await helia.libp2p.dial(multiaddr(a)) }))
      return {}
    case 'import': {
      const res = await fetch(m.url)
      if (!res.ok || res.body == null) throw new Error(`origin answered ${res.status}`)
      const cid = await fs.addByteStream(Readable.fromWeb(res.body))
      return { cid: cid.toString() }
    }
    case 'cat': {
      const h = createHash('sha256')
      const out = createWriteStream(m.out)
      for await (const chunk of fs.cat(CID.parse(m.cid))) {
        h.update(chunk)
        if (!out.write(chunk)) await new Promise(resolve => out.once('drain', resolve))
      }
      await new Promise((resolve, reject) => out.end(err => err != null ? reject(err) : resolve()))
      return { sha256: `sha256:${h.digest('hex')}` }
    }
    case 'stop':
      await helia.stop()
      setTimeout(() => process.exit(0), 50)
      return {}
    default: throw new Error(`unknown command ${m.cmd}`)
  }
}

createInterface({ input: process.stdin }).on('line', line => {
  let m
  try { m = JSON.parse(line) } catch { return }
  handle(m).then(r => send({ id: m.id, ok: true, ...r }), err => send({ id: m.id, ok: false, error: String(err?.stack ?? err) }))
}).on('close', () => { process.exit(0) })
