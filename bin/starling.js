#!/usr/bin/env node
import '../dist/src/polyfill.js'
import { relaunchEarly } from '../dist/src/cli/relaunch-early.js'

// `daemon --memory-limit` may run the daemon in a child with V8 and malloc settings that only a
// new process takes; this process then just waits for it, so the CLI is not loaded here.
relaunchEarly(process.argv, process.env).then(async code => {
  if (code !== undefined) return code
  const { main } = await import('../dist/src/cli/main.js')
  return await main(process.argv)
}).then(code => {
  process.exitCode = code
}, err => {
  process.stderr.write(`starling: ${err?.message ?? err}\n`)
  process.exitCode = 1
})
