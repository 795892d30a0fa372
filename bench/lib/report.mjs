// Results: the JSON record, the Markdown table and the README's summary.
import { stats } from './measure.mjs';

/**
 * A measured series: its samples and their statistics.
 * @param {string} id
 * @param {string} label
 * @param {string} unit 'ms', 'keys/s', 'signatures/s' ...
 * @param {number[]} samples
 * @param {{ command?: string, note?: string }} [extra]
 */
export function series(id, label, unit, samples, extra = {}) {
  return { id, label, unit, ...extra, stats: stats(samples), samples: samples.map((s) => Math.round(s * 1000) / 1000) };
}

/**
 * The ratio of one series' median to another's (or to a computed reference value), with the goal
 * it is held to, if any.
 * @param {string} label
 * @param {{ median: number, label: string, unit: string } | ReturnType<typeof series>} subject
 * @param {{ median: number, label: string, unit: string } | ReturnType<typeof series>} reference
 * @param {{ op: '<=' | '>=', value: number, text?: string }} [goal]
 * @param {string} [note]
 */
export function compare(label, subject, reference, goal, note) {
  subject = flat(subject);
  reference = flat(reference);
  const ratio = subject.median / reference.median;
  return {
    label,
    subject: { label: subject.label, median: subject.median, unit: subject.unit },
    reference: { label: reference.label, median: reference.median, unit: reference.unit },
    ratio,
    ...(goal === undefined
      ? {}
      : { goal: { ...goal, met: goal.op === '<=' ? ratio <= goal.value : ratio >= goal.value } }),
    ...(note === undefined ? {} : { note }),
  };
}

/** A series, or a computed {median, label, unit}, as {median, label, unit}. */
const flat = (x) => (x.stats === undefined ? x : { median: x.stats.median, label: x.label, unit: x.unit });

/** A median as a figure with its unit: 84.2 ms, 1.31 s, 950 keys/s. */
export function figure(value, unit) {
  if (unit === 'ms')
    return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value >= 100 ? 0 : 1)} ms`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${unit}`;
}

const ratioText = (r) => `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
const goalText = (g) =>
  g === undefined ? '' : `${g.op === '<=' ? '≤' : '≥'} ${g.value}×${g.text ? ` (${g.text})` : ''}`;
const statusText = (g) =>
  g === undefined ? '' : g.met === undefined ? 'not judged (quick run)' : g.met ? '**met**' : '**missed**';

/** The summary table: every comparison, its figures, ratio and goal. */
export function summaryTable(cases) {
  const lines = ['| case | measure | keymint | reference | ratio | goal | |', '|---|---|---|---|---|---|---|'];
  for (const c of cases) {
    for (const cmp of c.comparisons.filter((x) => x.summary !== false)) {
      lines.push(
        `| ${c.number}. ${c.short} | ${cmp.label} | ${figure(cmp.subject.median, cmp.subject.unit)} | ${cmp.reference.label}: ${figure(cmp.reference.median, cmp.reference.unit)} | ${ratioText(cmp.ratio)} | ${goalText(cmp.goal)} | ${statusText(cmp.goal)} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The whole Markdown report. */
export function markdown(result) {
  const out = [];
  out.push('# keymint benchmark results');
  out.push('');
  out.push(
    `Run ${result.finishedAt} with \`${result.command}\` in ${(result.seconds / 60).toFixed(1)} minutes${result.quick ? ' (quick mode: fewer runs, figures are rough)' : ''}.`,
  );
  out.push(
    `Machine: ${result.machine.cpus} × ${result.machine.cpuModel}, ${result.machine.memoryGiB} GiB, ${result.machine.os}; Node ${result.machine.node}, ${result.machine.openssl}; load average ${result.machine.loadBefore.join(' ')} before, ${result.machine.loadAfter.join(' ')} after.`,
  );
  out.push(`keymint ${result.keymint.commit}${result.keymint.dirty ? ' (with uncommitted changes)' : ''}.`);
  out.push('');
  out.push(
    'Ratios compare medians on this machine in the same run; the commands of a case run interleaved, so load from elsewhere hits them alike. Times are wall-clock, per process, including start-up, unless a row says otherwise.',
  );
  out.push('');
  out.push('![ratios to the references, with the goals](latest.svg)');
  out.push('');
  out.push('## Summary');
  out.push('');
  out.push(summaryTable(result.cases));
  for (const c of result.cases) {
    out.push('');
    out.push(`## ${c.number}. ${c.title}`);
    out.push('');
    if (c.description) out.push(c.description, '');
    out.push('| what | median | min | max | runs |');
    out.push('|---|---|---|---|---|');
    for (const s of c.series) {
      out.push(
        `| ${s.label}${s.command ? `<br>\`${s.command.replace(/\|/g, '\\|')}\`` : ''} | ${figure(s.stats.median, s.unit)} | ${figure(s.stats.min, s.unit)} | ${figure(s.stats.max, s.unit)} | ${s.stats.n} |`,
      );
    }
    out.push('');
    out.push('| ratio | value | goal | |');
    out.push('|---|---|---|---|');
    for (const cmp of c.comparisons) {
      out.push(
        `| ${cmp.label}${cmp.note ? ` — ${cmp.note}` : ''} | ${ratioText(cmp.ratio)} | ${goalText(cmp.goal)} | ${statusText(cmp.goal)} |`,
      );
    }
    for (const note of c.notes ?? []) out.push('', note);
    if (c.plot) out.push('', `![${c.plot.alt}](${c.plot.file})`);
    out.push('', `(${c.seconds.toFixed(0)} s)`);
  }
  return `${out.join('\n')}\n`;
}

/** Replaces what is between `<!-- bench:summary -->` and `<!-- /bench:summary -->` in the README. */
export function readmeSummary(readme, result) {
  const start = '<!-- bench:summary -->';
  const end = '<!-- /bench:summary -->';
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < i) return readme;
  const body = [
    '',
    `Last run: ${result.finishedAt.slice(0, 10)}, ${result.machine.cpus} × ${result.machine.cpuModel}, Node ${result.machine.node}${result.quick ? ' (quick mode)' : ''}; ${(result.seconds / 60).toFixed(0)} minutes. Full table: [bench/results/latest.md](bench/results/latest.md); plot: [bench/results/latest.svg](bench/results/latest.svg).`,
    '',
    summaryTable(result.cases),
    '',
    '![keymint against its references: ratios of medians, with the goals](bench/results/latest.svg)',
    '',
  ].join('\n');
  return readme.slice(0, i + start.length) + body + readme.slice(j);
}
