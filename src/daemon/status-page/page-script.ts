/**
 * The status page's script, as the browser runs it: plain ES2020, no
 * modules, no dependencies, no build step. It polls the daemon's JSON API
 * (info, peers, stats, transfers) once a second with the API token (and
 * the daemon's last minutes of byte counters once, to start the chart), and
 * draws the page from the answers with DOM calls only: peer ids, location
 * labels and errors come from other machines, so nothing is ever parsed as
 * HTML (no innerHTML).
 *
 * Kept in a raw string: it must hold no backtick, no dollar-brace and no
 * closing script tag. page.ts hashes it for the Content-Security-Policy.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict'
  var TOKEN_KEY = 'starling-api-token'
  var TOKEN_FORMAT = /^[0-9a-f]{64}$/
  var POLL_MS = 1000
  var WINDOW_MS = 5 * 60 * 1000
  var SVG_NS = 'http://www.w3.org/2000/svg'
  var CHART_W = 600
  var CHART_H = 150
  var SOURCES = [
    { key: 'origin', label: 'origin', color: '#d1495b' },
    { key: 'peer-local', label: 'same location', color: '#2a9d8f' },
    { key: 'peer-remote', label: 'other locations', color: '#3d6fb6' },
    { key: 'cache', label: 'cache', color: '#9a9a9a' }
  ]
  var SOURCE_LABEL = {}
  SOURCES.forEach(function (s) { SOURCE_LABEL[s.key] = s.label })

  var token = takeToken()
  var samples = []
  var seeded = false
  var timer = null

  function byId (id) { return document.getElementById(id) }

  /** The token arrives in the URL fragment (never sent to a server) or the form; it is kept for this tab only. */
  function takeToken () {
    var m = /(?:^#|&)token=([0-9a-f]{64})(?:&|$)/.exec(location.hash)
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, m[1])
      history.replaceState(null, '', location.pathname + location.search)
    }
    return sessionStorage.getItem(TOKEN_KEY)
  }

  function el (tag, attrs, children) {
    var e = document.createElement(tag)
    setAttrs(e, attrs)
    append(e, children)
    return e
  }
  function svg (tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag)
    setAttrs(e, attrs)
    return e
  }
  function setAttrs (e, attrs) {
    for (var k in attrs || {}) if (attrs[k] != null) e.setAttribute(k, String(attrs[k]))
  }
  function append (e, children) {
    (children || []).forEach(function (c) {
      if (c != null) e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
    })
  }
  function clear (e) { while (e.firstChild) e.removeChild(e.firstChild) }

  function bytes (n) {
    if (n == null) return '?'
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    var i = 0
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i]
  }
  function shortId (id) { return id.length > 20 ? id.slice(0, 8) + '\u2026' + id.slice(-6) : id }

  function setStatus (text, bad) {
    var s = byId('status')
    s.textContent = text
    s.className = bad ? 'bad' : ''
  }

  function showLogin (message) {
    if (timer != null) { clearTimeout(timer); timer = null }
    byId('main').hidden = true
    byId('login').hidden = false
    byId('login-message').textContent = message
    setStatus('no API token', true)
  }

  function api (path) {
    return fetch(path, { headers: { authorization: 'Bearer ' + token }, cache: 'no-store' }).then(function (res) {
      if (res.status === 401) { var e = new Error('the daemon refused this API token'); e.name = 'Unauthorized'; throw e }
      if (!res.ok) throw new Error(path + ' answered ' + res.status)
      return res.json()
    })
  }

  function tick () {
    timer = null
    var past = seeded ? Promise.resolve({ samples: [] }) : api('/api/v1/stats/history')
    Promise.all([api('/api/v1/info'), api('/api/v1/peers'), api('/api/v1/stats'), api('/api/v1/transfers'), past]).then(function (r) {
      byId('login').hidden = true
      byId('main').hidden = false
      if (!seeded) { samples = r[4].samples.map(function (x) { return { t: x.t, bytesIn: x.bytesIn } }); seeded = true }
      render(r[0], r[1].peers, r[2], r[3].transfers)
      setStatus('updated ' + new Date().toLocaleTimeString(), false)
      schedule()
    }, function (err) {
      if (err.name === 'Unauthorized') {
        sessionStorage.removeItem(TOKEN_KEY)
        token = null
        showLogin(err.message + '. Paste the token again.')
        return
      }
      setStatus('cannot read the daemon: ' + err.message, true)
      schedule()
    })
  }

  function schedule () {
    if (token == null || timer != null) return
    // a hidden tab asks nothing: the daemon answers no one who is not looking
    if (document.hidden) return
    timer = setTimeout(tick, POLL_MS)
  }

  document.addEventListener('visibilitychange', function () { if (!document.hidden && timer == null && token != null) tick() })

  function render (info, peers, stats, transfers) {
    renderNode(info, stats, peers)
    renderCache(stats.cache)
    renderTransfers(transfers, info.location)
    var now = Date.now()
    samples.push({ t: now, bytesIn: stats.bytesIn })
    // one sample older than the window stays: the first step starts at its edge
    while (samples.length > 2 && samples[1].t < now - WINDOW_MS) samples.shift()
    renderChart(stats.bytesIn, now)
    renderPeers(peers, info)
  }

  function renderNode (info, stats, peers) {
    var n = byId('node')
    clear(n)
    append(n, [
      el('span', {}, ['peer ', el('code', { id: 'self-id' }, [info.peerId])]),
      el('span', {}, ['location ', el('code', { id: 'self-location' }, [info.location === '' ? '(none)' : info.location])]),
      el('span', {}, ['version ' + info.version]),
      el('span', {}, [peers.filter(function (p) { return !p.banned }).length + ' peers connected']),
      el('span', {}, [bytes(stats.bytesUploaded) + ' uploaded'])
    ])
  }

  function renderCache (cache) {
    var quota = cache.quota
    var share = quota == null || quota === 0 ? null : Math.min(1, cache.bytes / quota)
    byId('cache-bar').hidden = share == null
    byId('cache-fill').style.width = share == null ? '0' : (share * 100).toFixed(1) + '%'
    byId('cache-text').textContent = bytes(cache.bytes) + ' in ' + cache.blobs + (cache.blobs === 1 ? ' blob, ' : ' blobs, ') +
      (quota == null ? 'no quota' : 'quota ' + bytes(quota) + ' (' + (share * 100).toFixed(0) + '%)')
  }

  function renderTransfers (list, myLocation) {
    var body = byId('transfers-body')
    clear(body)
    list.forEach(function (t) {
      var share = t.pieceCount ? t.piecesHeld / t.pieceCount : (t.state === 'done' ? 1 : 0)
      var bar = el('div', { class: 'bar' }, [el('div', { class: 'fill' })])
      bar.firstChild.style.width = (share * 100).toFixed(1) + '%'
      var sources = el('ul', { class: 'sources' })
      t.sources.forEach(function (s) {
        var who = s.source === 'origin' || s.source === 'cache' ? s.source : shortId(s.id)
        append(sources, [el('li', { 'data-source': s.source, 'data-peer': s.source === 'origin' || s.source === 'cache' ? null : s.id, title: s.id + ' \u00b7 ' + SOURCE_LABEL[s.source] }, [
          el('i', { class: 'dot', 'data-source': s.source }), who + ' ' + bytes(s.bytes)
        ])])
      })
      var state = t.state + (t.fetches > 1 ? ' \u00d7' + t.fetches : '') + (t.error ? ': ' + t.error : '')
      append(body, [el('tr', { 'data-digest': t.digest, 'data-state': t.state }, [
        el('td', { class: 'digest', title: t.digest }, [el('code', {}, [t.digest])]),
        el('td', { class: 'state' }, [state]),
        el('td', { class: 'progress' }, [bar, (t.pieceCount == null ? '?' : t.piecesHeld + '/' + t.pieceCount + ' pieces') + ' \u00b7 ' + (share * 100).toFixed(0) + '% of ' + bytes(t.size)]),
        el('td', { class: 'rate' }, [t.state === 'active' ? bytes(t.rateBytesPerSec) + '/s' : '']),
        el('td', {}, [sources])
      ])])
    })
    byId('transfers-empty').hidden = list.length > 0
  }

  /** Stacked steps of bytes per second by source, one step per pair of samples, placed by time over the last WINDOW_MS. */
  function renderChart (totals, now) {
    var chart = byId('chart')
    clear(chart)
    var steps = []
    for (var i = 1; i < samples.length; i++) {
      var dt = Math.max(1, samples[i].t - samples[i - 1].t) / 1000
      var r = { from: samples[i - 1].t, to: samples[i].t }
      SOURCES.forEach(function (s) { r[s.key] = Math.max(0, samples[i].bytesIn[s.key] - samples[i - 1].bytesIn[s.key]) / dt })
      steps.push(r)
    }
    var max = 1024
    steps.forEach(function (r) { var sum = 0; SOURCES.forEach(function (s) { sum += r[s.key] }); max = Math.max(max, sum) })
    var x = function (t) { return Math.max(0, CHART_W - (now - t) / WINDOW_MS * CHART_W).toFixed(1) }
    var y = function (v) { return (CHART_H - v / max * (CHART_H - 14)).toFixed(1) }
    var below = steps.map(function () { return 0 })
    SOURCES.forEach(function (s) {
      if (steps.length === 0) return
      var top = steps.map(function (r, j) { return below[j] + r[s.key] })
      if (top.every(function (v, j) { return v === below[j] })) return
      var d = 'M' + x(steps[0].from) + ' ' + y(below[0])
      top.forEach(function (v, j) { d += ' L' + x(steps[j].from) + ' ' + y(v) + ' L' + x(steps[j].to) + ' ' + y(v) })
      for (var j = steps.length - 1; j >= 0; j--) d += ' L' + x(steps[j].to) + ' ' + y(below[j]) + ' L' + x(steps[j].from) + ' ' + y(below[j])
      chart.appendChild(svg('path', { d: d + ' Z', fill: s.color, 'data-source': s.key }))
      below = top
    })
    for (var m = 1; m * 60000 < WINDOW_MS; m++) {
      chart.appendChild(svg('line', { x1: x(now - m * 60000), y1: 0, x2: x(now - m * 60000), y2: CHART_H, class: 'grid' }))
    }
    chart.appendChild(svg('line', { x1: 0, y1: CHART_H, x2: CHART_W, y2: CHART_H, class: 'axis' }))
    var label = svg('text', { x: 4, y: 11, class: 'axis-label' })
    label.textContent = 'peak ' + bytes(Math.round(max)) + '/s \u00b7 last ' + Math.round(WINDOW_MS / 60000) + ' min, a line a minute'
    chart.appendChild(label)

    var legend = byId('legend')
    clear(legend)
    var all = 0
    SOURCES.forEach(function (s) { all += totals[s.key] })
    SOURCES.forEach(function (s) {
      var pct = all === 0 ? 0 : totals[s.key] / all * 100
      append(legend, [el('li', { 'data-source': s.key }, [el('i', { class: 'dot', 'data-source': s.key }), s.label + ': ' + bytes(totals[s.key]) + ' (' + pct.toFixed(0) + '%)'])])
    })
  }

  /**
   * A peer's location is learnt from a blob's meta or gossip exchange: a
   * peer this node has not shared a blob with yet has none (undefined),
   * which is not the same as a peer with no label ('').
   */
  function renderPeers (peers, info) {
    var groups = new Map()
    peers.forEach(function (p) {
      var loc = p.location == null ? null : p.location
      if (!groups.has(loc)) groups.set(loc, [])
      groups.get(loc).push(p)
    })
    var rank = function (loc) { return loc === info.location ? 0 : loc == null ? 3 : loc === '' ? 2 : 1 }
    var names = Array.from(groups.keys()).sort(function (a, b) { return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0) })
    var box = byId('peers')
    clear(box)
    names.forEach(function (loc) {
      var list = el('ul', {})
      groups.get(loc).sort(function (a, b) { return a.id < b.id ? -1 : 1 }).forEach(function (p) {
        var extra = (p.rttMs != null ? ' \u00b7 ' + Math.round(p.rttMs) + ' ms' : '') +
          (p.strikes > 0 ? ' \u00b7 ' + p.strikes + ' strikes' : '') + (p.banned ? ' \u00b7 banned' : '')
        append(list, [el('li', { 'data-peer': p.id, class: p.banned ? 'banned' : null }, [el('code', {}, [p.id]), extra])])
      })
      var title = loc == null ? 'location not learnt yet' : loc === '' ? '(no location label)' : loc
      if (loc === info.location) title += ' \u2014 this node\u2019s location'
      append(box, [el('section', { class: 'location', 'data-location': loc }, [el('h3', {}, [title + ' (' + groups.get(loc).length + ')']), list])])
    })
    byId('peers-empty').hidden = names.length > 0
  }

  byId('login').addEventListener('submit', function (ev) {
    ev.preventDefault()
    var given = byId('token').value.trim()
    if (!TOKEN_FORMAT.test(given)) { byId('login-message').textContent = 'An API token is 64 hex characters.'; return }
    byId('token').value = ''
    sessionStorage.setItem(TOKEN_KEY, given)
    token = given
    tick()
  })

  if (token == null) showLogin('This page reads the daemon\u2019s API, which wants its token.')
  else tick()
})()
`
