// The live dashboard: one self-contained page (no CDN, no build step) that polls /info.json and
// draws tables, operations per second (an SVG chart of the last minute), memory, connections and
// persistence. Table names are user data: the page only ever sets textContent, never HTML.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CyberDB</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330 }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline }
  header h1 { font-size: 18px; margin: 0 }
  #status { font-size: 12px; opacity: .8 }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 14px; padding: 16px }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002 }
  section.wide { grid-column: 1 / -1 }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; margin: 0 0 8px }
  .big { font-size: 28px; font-weight: 600 }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0 }
  dt { color: #5a6478 } dd { margin: 0; font-variant-numeric: tabular-nums }
  table { border-collapse: collapse; width: 100% }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e6e8ee; font-variant-numeric: tabular-nums }
  td.n, th.n { text-align: right }
  svg { width: 100%; height: 90px; background: #fafbfc; border: 1px solid #e6e8ee; border-radius: 4px }
  polyline { fill: none; stroke: #2f6fed; stroke-width: 2 }
</style>
</head>
<body>
<header><h1>CyberDB</h1><span id="status">connecting…</span></header>
<main>
  <section class="wide">
    <h2>Operations per second</h2>
    <div class="big" id="ops-rate">–</div>
    <svg id="ops-chart" viewBox="0 0 600 90" preserveAspectRatio="none"><polyline id="ops-line" points=""></polyline></svg>
  </section>
  <section>
    <h2>Memory</h2>
    <dl>
      <dt>store</dt><dd id="memory-store">–</dd>
      <dt>limit</dt><dd id="memory-limit">–</dd>
      <dt>rss</dt><dd id="memory-rss">–</dd>
      <dt>heap</dt><dd id="memory-heap">–</dd>
    </dl>
  </section>
  <section>
    <h2>Connections</h2>
    <div class="big" id="connections">–</div>
    <dl id="refused"></dl>
  </section>
  <section>
    <h2>Persistence</h2>
    <dl>
      <dt>file</dt><dd id="persistence-file">–</dd>
      <dt>durability</dt><dd id="persistence-durability">–</dd>
      <dt>log</dt><dd id="persistence-log">–</dd>
      <dt>last save</dt><dd id="persistence-save">–</dd>
      <dt>commits</dt><dd id="feed-seq">–</dd>
    </dl>
  </section>
  <section>
    <h2>Cache</h2>
    <dl>
      <dt>get hits</dt><dd id="gets-hits">–</dd>
      <dt>get misses</dt><dd id="gets-misses">–</dd>
      <dt>expired</dt><dd id="expired">–</dd>
      <dt>evicted</dt><dd id="evicted">–</dd>
    </dl>
  </section>
  <section class="wide">
    <h2>Tables</h2>
    <table><thead><tr><th>name</th><th>type</th><th class="n">size</th><th class="n">bytes</th><th class="n">with deadline</th></tr></thead>
    <tbody id="tables"></tbody></table>
  </section>
</main>
<script>
'use strict'
const POLL_MS = Number(new URLSearchParams(location.search).get('interval')) || 1000
const HISTORY = 60
const rates = []
let previous

const $ = (id) => document.getElementById(id)
const set = (id, text) => { $(id).textContent = text }
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i]
}
const count = (n) => n.toLocaleString('en')
const totalOps = (info) => Object.values(info.ops).reduce((a, b) => a + b, 0)

function drawChart() {
  const max = Math.max(1, ...rates)
  const step = 600 / (HISTORY - 1)
  const start = HISTORY - rates.length
  $('ops-line').setAttribute('points',
    rates.map((r, i) => ((start + i) * step).toFixed(1) + ',' + (88 - (r / max) * 84).toFixed(1)).join(' '))
}

function row(cells) {
  const tr = document.createElement('tr')
  cells.forEach(([text, numeric]) => {
    const td = document.createElement('td')
    td.textContent = text
    if (numeric) td.className = 'n'
    tr.appendChild(td)
  })
  return tr
}

function render(info) {
  if (previous !== undefined && info.at > previous.at) {
    rates.push(Math.max(0, (totalOps(info) - totalOps(previous)) * 1000 / (info.at - previous.at)))
    if (rates.length > HISTORY) rates.shift()
    set('ops-rate', count(Math.round(rates[rates.length - 1])))
    drawChart()
  }
  previous = info
  set('memory-store', bytes(info.memory.storeBytes))
  set('memory-limit', info.memory.maxMemory > 0 ? bytes(info.memory.maxMemory) : 'none')
  set('memory-rss', bytes(info.memory.rss))
  set('memory-heap', bytes(info.memory.heapUsed) + ' of ' + bytes(info.memory.heapTotal))
  set('connections', info.server ? count(info.server.connections) : 'embedded')
  const refused = $('refused')
  refused.replaceChildren()
  if (info.server) for (const [reason, n] of Object.entries(info.server.refused)) {
    const dt = document.createElement('dt'); dt.textContent = 'refused: ' + reason
    const dd = document.createElement('dd'); dd.textContent = count(n)
    refused.append(dt, dd)
  }
  const p = info.persistence
  set('persistence-file', p.file ?? 'none (memory only)')
  set('persistence-durability', p.durability ?? '–')
  set('persistence-log', bytes(p.logBytes))
  set('persistence-save', p.lastSave === null ? 'never'
    : (p.lastSave.ok ? 'ok' : 'FAILED: ' + p.lastSave.error) + ', ' + new Date(p.lastSave.at).toLocaleTimeString('en') +
      ', ' + p.lastSave.ms.toFixed(0) + ' ms, ' + bytes(p.lastSave.bytes))
  set('feed-seq', count(info.feed.seq))
  set('gets-hits', count(info.gets.hits))
  set('gets-misses', count(info.gets.misses))
  set('expired', count(info.expired))
  set('evicted', count(info.evicted))
  $('tables').replaceChildren(...info.tables.map((t) =>
    row([[t.name], [t.type], [count(t.size), true], [bytes(t.bytes), true], [count(t.withDeadline), true]])))
  set('status', 'live · ' + info.tables.length + ' tables · updated ' + new Date().toLocaleTimeString('en'))
}

async function poll() {
  try {
    const response = await fetch('info.json', { cache: 'no-store' })
    if (!response.ok) throw new Error('HTTP ' + response.status)
    render(await response.json())
  } catch (error) {
    set('status', 'disconnected: ' + error.message)
  } finally {
    setTimeout(poll, POLL_MS)
  }
}
poll()
</script>
</body>
</html>
`
