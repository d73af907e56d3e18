#!/usr/bin/env node
import '../dist/src/polyfill.js'
import { main } from '../dist/src/cli/main.js'

main(process.argv).then(code => {
  process.exitCode = code
}, err => {
  process.stderr.write(`starling: ${err?.message ?? err}\n`)
  process.exitCode = 1
})
