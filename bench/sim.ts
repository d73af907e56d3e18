/**
 * The download engine at swarm scale, in one process on virtual time
 * (test/sim): N real engines over a simulated network with uneven links,
 * a few slow nodes, a few that die mid-run, lossy delayed gossip.
 *   npm run build && node dist/bench/sim.js --nodes 1000 --size-mib 1024 --locations 3
 * Options: --seed 1 --up-mbit 50,200 --down-mbit 500,1000 --origin-mbit 1000
 *   --slow 0.02 --dying 0.01 --gossip-delay-ms 20,200 --gossip-loss 0.05 --peers 30
 *   --freeze 10,0.33,5000 (nodes, at this share of the work, for ms)
 *   --wall-s 600 (give up after this much wall time) --until-s 3600 (virtual)
 *   --trace-every-s 10 (virtual)
 * Prints origin ÷ blob, bytes crossing into each location ÷ blob, time ÷ T_min,
 * where T_min = max(S/u_origin, S/d_min, N·S/(u_origin + Σu_i)) over the
 * nodes that must finish (the bound of a perfect swarm: nobody can beat the
 * origin's upload for the first copy, the slowest download, or the
 * aggregate upload for N copies), and the wall time of the run.
 */
import '../src/polyfill.js'
import { Mbit, runSwarm } from '../test/sim/harness.js'

const MiB = 1024 * 1024

// A thousand engines print one MaxListenersExceededWarning per download
// signal (many attempts listen on it): count them instead of drowning the figures.
let listenerWarnings = 0
process.removeAllListeners('warning')
process.on('warning', (w) => { if (w.name === 'MaxListenersExceededWarning') listenerWarnings++; else console.warn(w) })

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}

/** `--name a,b` as a range, or one number as a fixed value. */
function range (name: string, dflt: [number, number]): [number, number] {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return dflt
  const [a, b] = process.argv[i + 1].split(',').map(Number)
  return [a, b ?? a]
}

const N = arg('nodes', 1000)
const size = arg('size-mib', 1024) * MiB
const locations = arg('locations', 3)
const seed = arg('seed', 1)
const up = range('up-mbit', [50, 200]).map(x => x * Mbit) as [number, number]
const down = range('down-mbit', [500, 1000]).map(x => x * Mbit) as [number, number]
const originBps = arg('origin-mbit', 1000) * Mbit
const freezeAt = process.argv.indexOf('--freeze')
const freeze = freezeAt < 0 ? [] : [process.argv[freezeAt + 1].split(',').map(Number)].map(([nodes, atFraction, forMs]) => ({ nodes, atFraction, forMs }))

console.log(`sim: ${N} nodes, blob ${size / MiB} MiB, ${locations} locations, seed ${seed}, uploads ${up.map(x => x / Mbit).join('-')} Mbit/s, downloads ${down.map(x => x / Mbit).join('-')} Mbit/s, origin ${originBps / Mbit} Mbit/s` +
  (freeze.length > 0 ? `, freeze ${freeze[0].nodes} nodes at ${freeze[0].atFraction} for ${freeze[0].forMs} ms` : ''))
const r = await runSwarm({
  seed,
  nodes: N,
  blobSize: size,
  locations,
  uploadBps: up,
  downloadBps: down,
  originBps,
  gossipDelayMs: range('gossip-delay-ms', [20, 200]),
  gossipLoss: arg('gossip-loss', 0.05),
  slowFraction: arg('slow', 0.02),
  dyingFraction: arg('dying', 0.01),
  connectedPeers: arg('peers', 30),
  freeze,
  wallMs: arg('wall-s', Infinity) * 1000,
  deadlineMs: arg('until-s', 3600) * 1000,
  trace: line => { console.log(line) },
  traceEveryMs: arg('trace-every-s', 10) * 1000
})

const stay = r.nodeSpecs.filter(s => !s.dying)
const tMin = Math.max(size / originBps, size / Math.min(...stay.map(s => s.downBps)), stay.length * size / (originBps + stay.reduce((a, s) => a + s.upBps, 0))) * 1000
const slow = r.nodeSpecs.filter(s => s.slow).length
const dying = r.nodeSpecs.filter(s => s.dying).length
console.log(`pieces: ${r.pieces} × ${r.pieceSize / MiB} MiB; slow nodes: ${slow}; dying nodes: ${dying}`)
console.log(`all verified: ${r.allVerified ? 'yes' : `NO (${r.verified}/${r.expected}; ${JSON.stringify(r.failures)}; stopped (${r.stop}) at ${(r.endMs / 1000).toFixed(2)} s virtual)`}`)
console.log(`origin bytes / blob: ${r.originRatio.toFixed(3)}`)
console.log(`bytes crossing into each location / blob: ${Object.entries(r.crossInto).map(([l, x]) => `${l} ${x.toFixed(2)}`).join(', ')}`)
console.log(`time until all finished: ${(r.virtualMs / 1000).toFixed(1)} s virtual; T_min ${(tMin / 1000).toFixed(1)} s; time / T_min: ${(r.virtualMs / tMin).toFixed(2)}`)
console.log(`wall time: ${(r.wallMs / 1000).toFixed(1)} s, CPU ${r.cpuS.toFixed(1)} s (${r.timersFired} timers, ${r.gossipDelivered} gossip deliveries, ${r.duplicateWrites} duplicate pieces); peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB` +
  (listenerWarnings > 0 ? `; ${listenerWarnings} MaxListenersExceededWarning (engine)` : ''))
