// 6. `keymint keyset add` of 1000 keys into one JWK Set, one process per add: the time of each add
// against the size of the set it goes into.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newKeyPair } from '@keymint/test-kit/keys';
import { stats, timeOnce } from '../lib/measure.mjs';
import { series } from '../lib/report.mjs';
import { scatterChart } from '../lib/svg.mjs';

export const meta = { id: 'keyset', number: 6, short: 'keyset', title: '`keyset add` as the set grows' };

/** Least squares y = a + b·x. */
function fitLine(points) {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const b = sxy / sxx;
  return { a: my - b * mx, b };
}

export async function run(ctx) {
  const total = ctx.quick ? 150 : 1000;
  const window = Math.max(20, Math.round(total / 10));
  const dir = join(ctx.tmp, 'keyset');
  mkdirSync(dir, { recursive: true });
  // The keys: public EC P-256 JWKs made here (fast), so that the clock only sees `keyset add`.
  ctx.log(`${total} public keys, then ${total} × keymint keyset add`);
  const files = [];
  for (let i = 0; i < total; i++) {
    const publicKey = newKeyPair('ec', { namedCurve: 'P-256' }).publicJwk;
    const file = join(dir, `k${i}.pub.json`);
    writeFileSync(file, `${JSON.stringify({ ...publicKey, use: 'sig', alg: 'ES256' })}\n`);
    files.push(file);
  }
  const set = join(dir, 'jwks.json');
  const points = [];
  for (let i = 0; i < total; i++) {
    points.push({ x: i, y: timeOnce({ cmd: process.execPath, args: [ctx.bin, 'keyset', 'add', set, files[i]] }) });
    if ((i + 1) % 200 === 0) ctx.log(`${i + 1} added`);
  }
  const keys = JSON.parse(readFileSync(set, 'utf8')).keys.length;
  if (keys !== total) throw new Error(`the set holds ${keys} keys after ${total} adds`);

  const ys = (from, to) => points.slice(from, to).map((p) => p.y);
  const first = series('keyset-first', `adds 1–${window} (set of 0–${window - 1} keys)`, 'ms', ys(0, window));
  const middle = series(
    'keyset-middle',
    `adds around the middle (set of ~${Math.round(total / 2)} keys)`,
    'ms',
    ys(Math.round((total - window) / 2), Math.round((total + window) / 2)),
  );
  const last = series(
    'keyset-last',
    `adds ${total - window + 1}–${total} (set of ${total - window}–${total - 1} keys)`,
    'ms',
    ys(total - window, total),
  );
  const fit = fitLine(points);
  const growth = last.stats.median / first.stats.median;
  // Medians of windows, so that a burst of load elsewhere does not decide. Flat: the last adds cost
  // about what the first did. At most linear: the second half adds no more than twice what the
  // first half added (a quadratic cost would add three times as much), give or take 10%.
  const g1 = middle.stats.median - first.stats.median;
  const g2 = last.stats.median - middle.stats.median;
  const flat = growth <= 1.25;
  const linear = g2 <= 2 * Math.max(g1, 0) + 0.1 * first.stats.median;
  const verdict = flat ? 'flat' : linear ? 'linear, not flat' : 'faster than linear';
  writeFileSync(
    join(ctx.resultsDir, `${ctx.resultsName}-keyset.svg`),
    scatterChart(points, {
      title: `keymint keyset add: ms per add against the size of the set (${total} adds)`,
      xLabel: 'keys already in the set',
      yLabel: 'ms per add (one process)',
      fit,
    }),
  );
  const all = stats(points.map((p) => p.y));
  return {
    ...meta,
    description: `Each add is a whole \`keymint keyset add jwks.json kN.pub.json\` process (lock, read, parse, thumbprint, write atomically). The reference is the first ${window} adds. Goal: the time per add stays flat (last ${window} ÷ first ${window} ≤ 1.25) or grows at most linearly with the set's size: the medians of the first, middle and last ${window} adds grow no more over the second half than over the first (≤ 2×, with 10% of the first median as slack; a quadratic cost gives 3×).`,
    series: [
      first,
      middle,
      last,
      series(
        'keyset-all',
        `all ${total} adds`,
        'ms',
        points.map((p) => p.y),
      ),
    ],
    comparisons: [
      {
        label: `last ${window} adds ÷ first ${window} (${total} keys in the end)`,
        subject: { label: last.label, median: last.stats.median, unit: 'ms' },
        reference: { label: `first ${window} adds`, median: first.stats.median, unit: 'ms' },
        ratio: growth,
        note: 'flat if ≤ 1.25',
      },
      {
        label: 'growth over the second half ÷ growth over the first',
        subject: { label: 'second half: last − middle', median: g2, unit: 'ms' },
        reference: { label: 'first half: middle − first', median: g1, unit: 'ms' },
        ratio: flat ? 1 : g1 > 0 ? g2 / g1 : Infinity,
        goal: {
          op: '<=',
          value: 2,
          text: `flat or at most linear (linear: 1, quadratic: 3): ${verdict}`,
          met: flat || linear,
        },
        ...(flat ? { note: 'flat: the growth is noise, counted as 1' } : {}),
      },
    ],
    notes: [
      `Fitted line: ${fit.a.toFixed(1)} ms + ${(fit.b * 100).toFixed(2)} ms per 100 keys in the set; median of all adds ${all.median.toFixed(1)} ms. The window medians grow by ${g1.toFixed(1)} ms over the first half and ${g2.toFixed(1)} ms over the second: ${verdict}.`,
      `The set ends with ${keys} keys (${(readFileSync(set).length / 1024).toFixed(0)} KiB).`,
    ],
    plot: { file: `${ctx.resultsName}-keyset.svg`, alt: 'time per keyset add against the size of the set' },
  };
}
