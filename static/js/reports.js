// Report tables: click a column header to sort by it (numbers numerically), click again to reverse.
const num = (s) => (s.trim() !== '' && !Number.isNaN(Number(s)) ? Number(s) : null);

for (const table of document.querySelectorAll('table.sortable')) {
  const body = table.tBodies[0];
  table.querySelectorAll('thead th').forEach((th, col) => {
    th.style.cursor = 'pointer';
    th.addEventListener('click', () => {
      const dir = th.dataset.dir === 'asc' ? -1 : 1;
      th.dataset.dir = dir === 1 ? 'asc' : 'desc';
      const rows = [...body.rows];
      rows.sort((a, b) => {
        const x = a.cells[col].textContent, y = b.cells[col].textContent;
        const nx = num(x), ny = num(y);
        return dir * (nx !== null && ny !== null ? nx - ny : x.localeCompare(y));
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
}

// Charts: Apache ECharts (static/vendor/echarts.min.js, from npm) draws each option the server wrote into a
// data attribute, as SVG, in the page's language; the inline SVG in <noscript> stays for browsers without scripts.
if (window.echarts) {
  const locale = document.documentElement.lang === 'en' ? 'EN' : 'ZH';
  for (const box of document.querySelectorAll('.echart[data-option]')) {
    const chart = window.echarts.init(box, null, { renderer: 'svg', locale });
    chart.setOption(JSON.parse(box.dataset.option));
    window.addEventListener('resize', () => chart.resize());
  }
}
