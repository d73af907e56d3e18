/**
 * Baseline for bench/p2p: one raw libp2p stream (TCP + noise + yamux, the
 * same stack starling uses) moving N bytes between two processes.
 *   node dist/bench/raw-peer.js serve            -> prints {"addr": ...}
 *   node dist/bench/raw-peer.js pull ADDR BYTES  -> prints {"bytes":..,"ms":..,"cpuMs":..} (the puller's CPU)
 */
import '../src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const PROTO = '/starling-bench/raw/1.0.0'
const [mode, addr, bytesArg] = process.argv.slice(2)
const node = await createLibp2p({
  addresses: { listen: mode === 'serve' ? ['/ip4/127.0.0.1/tcp/0'] : [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})

if (mode === 'serve') {
  await node.handle(PROTO, async (stream) => {
    let want = 0
    for await (const buf of stream) {
      want = Number(new TextDecoder().decode(buf.subarray()))
      break
    }
    const chunk = new Uint8Array(1024 * 1024).fill(7)
    for (let sent = 0; sent < want; sent += chunk.length) {
      if (!stream.send(chunk.subarray(0, Math.min(chunk.length, want - sent)))) await stream.onDrain()
    }
    await stream.close()
  })
  process.stdout.write(JSON.stringify({ addr: node.getMultiaddrs()[0].toString() }) + '\n')
} else {
  const want = Number(bytesArg)
  const cpu0 = process.cpuUsage()
  const stream = await node.dialProtocol(multiaddr(addr), PROTO)
  const t0 = performance.now()
  stream.send(new TextEncoder().encode(String(want)))
  let got = 0
  for await (const buf of stream) got += buf.byteLength
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  process.stdout.write(JSON.stringify({ bytes: got, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n')
  await node.stop()
  process.exit(0)
}
