import { defineConfig } from 'vitest/config'

// Two groups (docs/decisions.md, "Tests in two groups"), run one after the
// other, never overlapping (sequence.groupOrder):
//
// 1. "unit": files that run purely in this process — no child processes, no
//    spawned nodes, daemons, registries, containerd or chromium, no network
//    namespaces, no real libp2p nodes (their dial and stream timeouts run on
//    wall-clock time). In-process HTTP servers on loopback and virtual-time
//    simulations are fine. Two files at a time: on 2 cores each gets a core.
// 2. "integration": everything else, one file at a time. These start many OS
//    processes; on 2 cores running files in parallel only makes them fight
//    for CPU and trip libp2p timeouts.
//
// A new test file is integration unless it matches UNIT below. Add it to UNIT
// only if it passes the rule of group 1; when in doubt, leave it out.
const UNIT = [
  // Whole folders: every file in them is in-process.
  'test/content/**/*.test.ts',
  'test/fuzz/**/*.test.ts', // fast-check; parser time budgets of 100 ms (inputs that took 1–2 s when broken)
  'test/sim/**/*.test.ts', // real engines on virtual time; see the wall caps note in docs/decisions.md
  'test/store/**/*.test.ts',
  // Single files from mixed folders.
  'test/cli/progress.test.ts',
  'test/daemon/api-token.test.ts',
  'test/daemon/api.test.ts', // in-process daemon with a fake node, loopback HTTP
  'test/daemon/config.test.ts',
  'test/daemon/relaunch.test.ts', // the plan only; nothing is launched
  'test/daemon/size.test.ts',
  'test/daemon/transfer-log.test.ts',
  'test/fetch/announce.test.ts', // virtual time (SimClock)
  'test/utils/io-timeout.test.ts', // loopback sockets in-process, under a second
  'test/fetch/groups.test.ts',
  'test/fetch/origin-rule.test.ts',
  'test/fetch/pace.test.ts',
  'test/fetch/peer-rounds.test.ts',
  'test/fetch/piece-buffers.test.ts',
  'test/fetch/policy.test.ts',
  'test/fetch/rendezvous.test.ts',
  'test/fetch/seek.test.ts', // virtual time (SimClock)
  'test/fetch/view.test.ts',
  'test/node/memory-budget.test.ts',
  'test/node/startable.test.ts',
  'test/origin/conformance.test.ts', // in-process origin server on loopback
  'test/origin/hf.test.ts',
  'test/origin/http.test.ts', // in-process HTTP servers on loopback
  'test/origin/oci-credentials.test.ts', // in-process HTTP servers on loopback
  'test/registry/listen.test.ts', // in-process mirror with a fake node
  'test/registry/store-full.test.ts',
  'test/registry/units.test.ts',
  'test/swarm/gossip.test.ts', // a fake pubsub, no libp2p
  'test/swarm/peer-book.test.ts',
  'test/tracing/endpoint.test.ts'
]

// Integration, by the rule above (everything not in UNIT), for the record:
// test/cli/* except progress (they run `starling` or daemons as processes),
// test/daemon/api-lock + status-page (daemon processes, chromium),
// test/deploy/* (containerd, the image, the single-file binary,
// systemd-analyze, kubectl), test/fetch/integrity* (a real node, the liar, an
// honest node process), test/netns/*, test/node/discovery + example (node
// processes), test/origin/origin-server-process, test/package/* (npm pack,
// daemons), test/protocols/generated (runs the generator as a process),
// test/registry/auth + containerd (registry, containerd), test/swarm/*
// except gossip + peer-book (node and daemon processes; gater and
// gossip-guard start real libp2p nodes in-process and poll with deadlines),
// test/tracing/otlp (daemon processes), test/transfer/* (real libp2p nodes
// in-process, with wall-clock bounds).

const shared = {
  setupFiles: ['./src/polyfill.ts'],
  testTimeout: 60_000,
  hookTimeout: 60_000
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: UNIT,
          fileParallelism: true,
          // vitest's default is cores - 1, which is 1 on 2 cores.
          maxWorkers: 2,
          sequence: { groupOrder: 0 }
        }
      },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: UNIT,
          fileParallelism: false,
          sequence: { groupOrder: 1 }
        }
      }
    ]
  }
})
