/**
 * The status page's one document: markup, style and script in a single
 * response, nothing else to load (docs/status-page.md). It carries no data
 * and no secret: the script reads the JSON API with the token like the CLI
 * does, so serving the page itself needs no token.
 *
 * The Content-Security-Policy allows exactly the inline script and style
 * below (by hash), requests to this origin only, and no framing: a peer
 * that names itself `<img onerror=…>` can at worst show up as text.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from '../http-util.js'
import { PAGE_SCRIPT } from './page-script.js'

/** Where the page lives; `/` redirects there. */
export const STATUS_PATH = '/status'

const STYLE = `
:root { color-scheme: light; --fg: #1d2330; --muted: #667085; --line: #e3e6ec; --bg: #f7f8fa; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: baseline; }
h1 { font-size: 18px; margin: 0 8px 0 0; }
h2 { font-size: 15px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 8px 0 4px; color: var(--muted); font-weight: 600; }
#node { display: flex; flex-wrap: wrap; gap: 4px 16px; color: var(--muted); }
#node code { color: var(--fg); }
#status { margin-left: auto; color: var(--muted); font-size: 12px; }
#status.bad { color: #b42318; font-weight: 600; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 14px; padding: 14px 20px; }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; }
#transfers-card { grid-column: 1 / -1; }
code { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
col.c-digest { width: 30%; } col.c-state { width: 9%; } col.c-progress { width: 24%; } col.c-rate { width: 10%; }
td.digest code { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar { height: 8px; background: #e9ecf1; border-radius: 4px; overflow: hidden; margin: 3px 0; }
.bar .fill, #cache-fill { height: 100%; width: 0; background: #3d6fb6; }
#cache-bar { height: 12px; }
ul { list-style: none; margin: 0; padding: 0; }
ul.sources li, #legend li { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#legend { display: flex; flex-wrap: wrap; gap: 2px 16px; margin-top: 6px; font-size: 13px; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 5px; background: #9a9a9a; }
.dot[data-source="origin"] { background: #d1495b; }
.dot[data-source="peer-local"] { background: #2a9d8f; }
.dot[data-source="peer-remote"] { background: #3d6fb6; }
#chart { width: 100%; height: auto; display: block; background: #fbfbfc; border: 1px solid var(--line); }
#chart .axis { stroke: #c4c9d2; }
#chart .grid { stroke: #eceef2; }
#chart .axis-label { font-size: 10px; fill: var(--muted); }
section.location ul li { padding: 2px 0; }
li.banned code { text-decoration: line-through; color: #b42318; }
.empty { color: var(--muted); margin: 4px 0; }
#login { max-width: 560px; margin: 40px auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px 18px; }
#login input { width: 100%; font: 13px ui-monospace, monospace; padding: 6px; margin: 8px 0; }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } }
`

const BODY = `
<header><h1>starling</h1><div id="node"></div><div id="status" role="status"></div></header>
<form id="login" hidden>
  <h2>API token</h2>
  <p id="login-message"></p>
  <p>It is in <code>&lt;data dir&gt;/api-token</code>; <code>starling status-page</code> prints this page's address with it.</p>
  <label>token <input id="token" type="password" autocomplete="off" spellcheck="false"></label>
  <button type="submit">Show status</button>
</form>
<main id="main" hidden>
  <section class="card" id="transfers-card"><h2>Transfers</h2>
    <table id="transfers"><colgroup><col class="c-digest"><col class="c-state"><col class="c-progress"><col class="c-rate"><col></colgroup>
      <thead><tr><th>digest</th><th>state</th><th>progress</th><th>rate</th><th>sources</th></tr></thead>
      <tbody id="transfers-body"></tbody></table>
    <p class="empty" id="transfers-empty">No transfer yet.</p>
  </section>
  <section class="card"><h2>Bytes in by source</h2>
    <svg id="chart" viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="bytes per second by source"></svg>
    <ul id="legend"></ul>
  </section>
  <section class="card"><h2>Peers by location</h2><div id="peers"></div><p class="empty" id="peers-empty">No peer connected.</p></section>
  <section class="card"><h2>Cache</h2><div class="bar" id="cache-bar"><div id="cache-fill"></div></div><p id="cache-text"></p></section>
</main>
`

function cspHash (text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`
}

const HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>starling status</title>
<style>${STYLE}</style></head>
<body>${BODY}<script>${PAGE_SCRIPT}</script></body></html>
`

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-length': Buffer.byteLength(HTML),
  'cache-control': 'no-store',
  'content-security-policy': [
    "default-src 'none'",
    `script-src ${cspHash(PAGE_SCRIPT)}`,
    // no style attributes in the markup; the script sets widths through CSSOM, which CSP allows
    `style-src ${cspHash(STYLE)}`,
    "connect-src 'self'",
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer'
}

/** `GET /status` (and `HEAD`); `/` redirects to it. */
export function serveStatusPage (req: IncomingMessage, res: ServerResponse, path: string): void {
  const method = req.method ?? 'GET'
  if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} ${path}: the status page is read-only`)
  if (path !== STATUS_PATH) {
    res.writeHead(302, { location: STATUS_PATH, 'content-length': 0 })
    res.end()
    return
  }
  res.writeHead(200, HEADERS)
  res.end(method === 'HEAD' ? undefined : HTML)
}
