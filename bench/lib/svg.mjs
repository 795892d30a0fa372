// The plots, as plain SVG text: no plotting library to install.

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
/** 1, 2 or 5 times a power of ten, near `raw`. */
const niceStep = (raw) => {
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw) ?? 10 * p;
};
const fmt = (x) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));

/**
 * Horizontal bars of ratios on a log scale, one per measure, grouped by case, with the goal as a
 * tick on each bar: green when the goal is met, red when missed, grey where there is no goal.
 * @param {{ group: string, label: string, ratio: number, goal?: { op: '<=' | '>=', value: number, met: boolean } }[]} items
 * @param {{ title: string, subtitle?: string }} text
 */
export function ratioChart(items, { title, subtitle = '' }) {
  const rowH = 22;
  const groupGap = 26;
  const left = 480;
  const width = 1180;
  const plotW = width - left - 230;
  const groups = [...new Set(items.map((i) => i.group))];
  const height = 80 + items.length * rowH + groups.length * groupGap + 40;
  const values = items.flatMap((i) => [i.ratio, ...(i.goal ? [i.goal.value] : [])]).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.5, ...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(2, ...values)));
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="16" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="16" y="42" fill="#555">${esc(subtitle)}</text>`);
  const top = 60;
  const bottom = height - 34;
  // Decade and 2x/5x grid lines.
  for (let d = lo; d <= hi; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > hi) break;
      const gx = x(v);
      out.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${bottom}" stroke="${m === 1 ? '#bbb' : '#eee'}"/>`);
      out.push(`<text x="${gx}" y="${bottom + 14}" text-anchor="middle" fill="#555" font-size="10">${fmt(v)}×</text>`);
    }
  }
  out.push(`<line x1="${x(1)}" y1="${top}" x2="${x(1)}" y2="${bottom}" stroke="#333" stroke-width="1.5"/>`);
  let y = top + 8;
  for (const group of groups) {
    out.push(`<text x="16" y="${y + 12}" font-weight="bold">${esc(group)}</text>`);
    y += groupGap - 6;
    for (const item of items.filter((i) => i.group === group)) {
      const color = item.goal?.met === undefined ? '#9aa5b1' : item.goal.met ? '#2e9e4f' : '#d1453b';
      const bx0 = x(Math.min(1, item.ratio));
      const bx1 = x(Math.max(1, item.ratio));
      const label = item.label.length > 70 ? `${item.label.slice(0, 69)}…` : item.label;
      out.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${esc(label)}</text>`);
      out.push(
        `<rect x="${bx0}" y="${y + 3}" width="${Math.max(1, bx1 - bx0)}" height="${rowH - 8}" fill="${color}" opacity="0.85"/>`,
      );
      const goalText =
        item.goal === undefined
          ? ''
          : `  (goal ${item.goal.op === '<=' ? '≤' : '≥'} ${fmt(item.goal.value)}×${item.goal.met === undefined ? '' : `: ${item.goal.met ? 'met' : 'missed'}`})`;
      const gx = item.goal === undefined ? 0 : x(item.goal.value);
      if (item.goal !== undefined)
        out.push(
          `<line x1="${gx}" y1="${y}" x2="${gx}" y2="${y + rowH - 2}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`,
        );
      out.push(
        `<text x="${Math.max(bx1, gx) + 5}" y="${y + 13}" fill="#222">${fmt(item.ratio)}×${esc(goalText)}</text>`,
      );
      y += rowH;
    }
  }
  out.push(
    `<text x="16" y="${height - 8}" fill="#555" font-size="10">Bars: ratio of medians to the case's reference (log scale). Dashed tick: the goal. Green: met; red: missed; grey: no goal, or a quick run that does not judge.</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * A scatter of y against x with a fitted line: time per `keyset add` against the set's size.
 * @param {{ x: number, y: number }[]} points
 * @param {{ title: string, xLabel: string, yLabel: string, fit?: { a: number, b: number } }} text
 */
export function scatterChart(points, { title, xLabel, yLabel, fit }) {
  const width = 900;
  const height = 360;
  const left = 70;
  const right = 20;
  const top = 44;
  const bottom = 50;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y).sort((a, b) => a - b);
  const xMax = Math.max(...xs, 1);
  // Clip the top 1% so one slow outlier does not flatten the plot.
  const yTop = ys[Math.floor(ys.length * 0.99)] * 1.1 || 1;
  const step = niceStep(yTop / 5);
  const yMax = Math.ceil(yTop / step) * step;
  const px = (v) => left + (v / xMax) * (width - left - right);
  const py = (v) => height - bottom - (Math.min(v, yMax) / yMax) * (height - top - bottom);
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="16" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    out.push(`<line x1="${left}" y1="${py(v)}" x2="${width - right}" y2="${py(v)}" stroke="#eee"/>`);
    out.push(
      `<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end" fill="#555" font-size="10">${+v.toFixed(1)}</text>`,
    );
  }
  const xStep = niceStep(xMax / 8);
  for (let v = 0; v <= xMax; v += xStep) {
    out.push(
      `<text x="${px(v)}" y="${height - bottom + 16}" text-anchor="middle" fill="#555" font-size="10">${v}</text>`,
    );
  }
  out.push(`<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#333"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#333"/>`);
  for (const p of points)
    out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="1.6" fill="#3b6fd1" opacity="0.6"/>`);
  if (fit !== undefined) {
    out.push(
      `<line x1="${px(0)}" y1="${py(fit.a)}" x2="${px(xMax)}" y2="${py(fit.a + fit.b * xMax)}" stroke="#d1453b" stroke-width="2"/>`,
    );
  }
  out.push(`<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(
    `<text x="16" y="${(top + height - bottom) / 2}" transform="rotate(-90 16 ${(top + height - bottom) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
