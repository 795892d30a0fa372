import { existsSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PASSWORD, keymint, listDir, passwordFile, tempDir } from '../helpers.js';
import { expectValidPair, median, startKeymint, waitUntil, type KeyPairOnDisk } from './support.js';

/**
 * Crash safety of `keymint create` (REFERENCE §3): a run killed with SIGKILL at any moment leaves
 * no key file, the old files or the complete new ones, never a partial file; the next successful
 * run removes the temp files the killed runs left.
 *
 * Two kinds of kill per scenario. "Uniform" kills land at uniformly random fractions of a normal
 * run's measured duration (stratified, so they spread over the whole run: start-up, key
 * generation, PBKDF2 with p2c 600000, writing, exit). The write phase is a few milliseconds of a
 * run of hundreds, so "write-phase" kills also land at uniformly random delays after the run's
 * first temp file appears (seen through inotify), over the measured time from there to exit.
 *
 * keymint renames the public file first, then the private one: a kill between the two renames
 * (a window of about a tenth of a millisecond) leaves the new public file beside the old private
 * file, or beside none. Two renames cannot be one atomic step, so such a "torn" pair is accepted
 * when each file is whole and the public one is the newer, and it is counted in the summary.
 */

const PUB = 'k.pub.json';
const PRIV = 'k.json';
const PASS = 'pw.txt';
/** keymint's temp names: host tag (8 hex digits), pid (8), random (12). */
const TEMP = /^\.k(\.pub)?\.json\.keymint-[0-9a-f]{28}\.tmp$/;
const P2C = 600_000;

type State = 'none' | 'old' | 'new' | 'torn';
type Phase = 'uniform' | 'write-phase';

interface Attempt {
  scenario: string;
  phase: Phase;
  /** The kill's moment as a fraction of the measured span (whole run, or first temp to exit). */
  fraction: number;
  /** Whether SIGKILL ended the run (false: the run finished first). */
  killed: boolean;
  state: State;
  tempsLeft: number;
}

const attempts: Attempt[] = [];
const finals: { scenario: string; staleTempsBefore: number }[] = [];
const measured: Record<string, { runMs: number; firstTempToExitMs: number }> = {};

interface Scenario {
  name: string;
  flags: string[];
  kty: string;
  force: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: 'EC P-256, new files', flags: [], kty: 'EC', force: false },
  { name: 'EC P-256, --force over a key pair', flags: [], kty: 'EC', force: true },
  { name: 'RSA 3072, new files', flags: ['--kty', 'RSA', '--size', '3072'], kty: 'RSA', force: false },
  { name: 'RSA 3072, --force over a key pair', flags: ['--kty', 'RSA', '--size', '3072'], kty: 'RSA', force: true },
];
/** Kills that must land per scenario: 4 x (10 + 6) = 64 in all. */
const UNIFORM_KILLS = 10;
const WRITE_PHASE_KILLS = 6;

function createArgs(scenario: Scenario, pub = PUB, priv = PRIV): string[] {
  return [
    'create',
    '--password-file',
    PASS,
    '--pbes2-count',
    String(P2C),
    ...scenario.flags,
    ...(scenario.force ? ['--force'] : []),
    pub,
    priv,
  ];
}

function tempsIn(dir: string): string[] {
  return listDir(dir).filter((name) => TEMP.test(name));
}

/**
 * A normal run's duration, and the time from its first temp file to its exit (medians of three),
 * measured on files of other names in the same directory.
 */
async function measure(dir: string, scenario: Scenario): Promise<{ total: number; writePhase: number }> {
  const totals: number[] = [];
  const writePhases: number[] = [];
  for (let i = 0; i < 3; i++) {
    let firstTemp: number | undefined;
    const watcher = watch(dir, (_event, name) => {
      if (firstTemp === undefined && name !== null && /^\.base\.(pub\.)?json\.keymint-/.test(name))
        firstTemp = performance.now();
    });
    const run = startKeymint([...createArgs(scenario, 'base.pub.json', 'base.json'), '--force'], { cwd: dir });
    const result = await run.done;
    watcher.close();
    expect(result.code, `a normal run succeeds: ${result.stderr}`).toBe(0);
    expect(firstTemp, 'the run wrote temp files').toBeDefined();
    totals.push(result.endedAt - run.startedAt);
    writePhases.push(result.endedAt - (firstTemp as number));
  }
  rmSync(join(dir, 'base.pub.json'));
  rmSync(join(dir, 'base.json'));
  return { total: median(totals), writePhase: median(writePhases) };
}

/** What a run left: classified, and checked to be whole. `current` is the pair before the run. */
async function inspect(
  dir: string,
  scenario: Scenario,
  current: KeyPairOnDisk | undefined,
  what: string,
): Promise<{ state: State; pair: KeyPairOnDisk | undefined }> {
  const strangers = listDir(dir).filter((name) => ![PUB, PRIV, PASS].includes(name) && !TEMP.test(name));
  expect(strangers, `${what}: only the key files and keymint temp files`).toEqual([]);
  const read = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined);
  const pub = read(PUB);
  const priv = read(PRIV);
  const pubOld = current !== undefined && pub === current.publicText;
  const privOld = current !== undefined && priv === current.privateText;
  if (pub === undefined && priv === undefined && current === undefined) return { state: 'none', pair: undefined };
  if (pubOld && privOld) return { state: 'old', pair: current };
  if (pub !== undefined && priv !== undefined && !pubOld && !privOld) {
    return { state: 'new', pair: await expectValidPair(dir, PUB, PRIV, PASSWORD, { kty: scenario.kty, p2c: P2C }) };
  }
  // The public file is renamed first: the only in-between state is a whole new public file beside
  // the old private file (or none).
  if (pub !== undefined && !pubOld && (current === undefined ? priv === undefined : privOld)) {
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(pub) as Record<string, unknown>;
    } catch {
      throw new Error(`${what}: ${PUB} is not complete JSON (${pub.length} characters)`);
    }
    expect(jwk.kty, `${what}: the new ${PUB} is a whole public JWK`).toBe(scenario.kty);
    return { state: 'torn', pair: current };
  }
  throw new Error(
    `${what}: ${PUB} is ${pub === undefined ? 'missing' : pubOld ? 'the old one' : 'new'}, ${PRIV} is ${priv === undefined ? 'missing' : privOld ? 'the old one' : 'new'}: not a state an interrupted write may leave`,
  );
}

/** Puts the directory back to the pair the next kill starts from (none, or the current pair). */
function reset(dir: string, current: KeyPairOnDisk | undefined): void {
  if (current === undefined) {
    rmSync(join(dir, PUB), { force: true });
    rmSync(join(dir, PRIV), { force: true });
    return;
  }
  for (const [name, text, mode] of [
    [PUB, current.publicText, 0o644],
    [PRIV, current.privateText, 0o600],
  ] as const) {
    if (existsSync(join(dir, name)) && readFileSync(join(dir, name), 'utf8') === text) continue;
    rmSync(join(dir, name), { force: true });
    writeFileSync(join(dir, name), text, { mode });
  }
}

/** One run of `create`, killed `delay` ms after its start, or after its first temp file appears. */
async function killRun(
  dir: string,
  scenario: Scenario,
  phase: Phase,
  delay: number,
): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  const before = new Set(listDir(dir));
  let firstTemp: number | undefined;
  let killAt: Promise<void> | undefined;
  const run = startKeymint(createArgs(scenario), { cwd: dir });
  const kill = () => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  };
  const watcher =
    phase === 'write-phase'
      ? watch(dir, (_event, name) => {
          if (firstTemp !== undefined || name === null || !TEMP.test(name) || before.has(name)) return;
          firstTemp = performance.now();
          killAt = waitUntil(firstTemp + delay).then(kill);
        })
      : undefined;
  if (phase === 'uniform') killAt = waitUntil(run.startedAt + delay).then(kill);
  const result = await run.done;
  watcher?.close();
  await killAt;
  if (phase === 'write-phase') expect(firstTemp, `the run reached its write phase: ${result.stderr}`).toBeDefined();
  return { killed: result.signal === 'SIGKILL', code: result.code, stderr: result.stderr };
}

describe('keymint create killed with SIGKILL at random moments', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: no key file, the old pair or the complete new pair after every kill; the next run removes the temp files`, async () => {
      const dir = tempDir();
      passwordFile(dir, PASSWORD, PASS);
      let current: KeyPairOnDisk | undefined;
      if (scenario.force) {
        const first = await keymint(createArgs(scenario), { cwd: dir });
        expect(first.code, first.stderr).toBe(0);
        current = await expectValidPair(dir, PUB, PRIV, PASSWORD, { kty: scenario.kty, p2c: P2C });
      }
      const { total, writePhase } = await measure(dir, scenario);
      measured[scenario.name] = { runMs: Math.round(total), firstTempToExitMs: Math.round(writePhase * 10) / 10 };

      const plan: { phase: Phase; wanted: number; span: number }[] = [
        { phase: 'uniform', wanted: UNIFORM_KILLS, span: total },
        { phase: 'write-phase', wanted: WRITE_PHASE_KILLS, span: writePhase },
      ];
      for (const { phase, wanted, span } of plan) {
        let landed = 0;
        for (let i = 0; landed < wanted; i++) {
          expect(i, `${phase}: ${wanted} kills should land within ${4 * wanted} runs`).toBeLessThan(4 * wanted);
          // Stratified: the i-th kill falls in the i-th of `wanted` equal slices of the span.
          const fraction = ((i % wanted) + Math.random()) / wanted;
          const what = `${scenario.name}, ${phase} kill at ${(fraction * 100).toFixed(0)}% of ${span.toFixed(1)} ms`;
          const outcome = await killRun(dir, scenario, phase, fraction * span);
          if (!outcome.killed)
            expect(outcome.code, `${what}: a run that was not killed succeeded: ${outcome.stderr}`).toBe(0);
          const { state, pair } = await inspect(dir, scenario, current, what);
          if (!outcome.killed) expect(state, `${what}: a finished run left the new pair`).toBe('new');
          attempts.push({
            scenario: scenario.name,
            phase,
            fraction,
            killed: outcome.killed,
            state,
            tempsLeft: tempsIn(dir).length,
          });
          if (outcome.killed) landed++;
          if (scenario.force && state === 'new') current = pair;
          reset(dir, current);
        }
      }

      // Make sure the final run has stale temp files to remove: kill early in write phases until
      // one leaves some (most kills before the rename do).
      for (let i = 0; tempsIn(dir).length === 0; i++) {
        expect(i, 'a kill in the write phase leaves temp files within 20 tries').toBeLessThan(20);
        await killRun(dir, scenario, 'write-phase', Math.random() * writePhase * 0.3);
        const { state, pair } = await inspect(dir, scenario, current, `${scenario.name}, extra write-phase kill`);
        if (scenario.force && state === 'new') current = pair;
        reset(dir, current);
      }
      const staleTempsBefore = tempsIn(dir).length;
      finals.push({ scenario: scenario.name, staleTempsBefore });

      const final = await keymint(createArgs(scenario), { cwd: dir });
      expect(final.code, final.stderr).toBe(0);
      expect(listDir(dir), 'no temp file is left after a successful run').toEqual([PUB, PASS, PRIV].sort());
      await expectValidPair(dir, PUB, PRIV, PASSWORD, { kty: scenario.kty, p2c: P2C });
    }, 180_000);
  }

  it('the kills spread over the runs, and landed both before and after the new files appeared', async () => {
    expect(attempts.length, 'every scenario ran').toBeGreaterThanOrEqual(
      SCENARIOS.length * (UNIFORM_KILLS + WRITE_PHASE_KILLS),
    );
    const landed = attempts.filter((a) => a.killed);
    const count = (filter: (a: Attempt) => boolean) => landed.filter(filter).length;
    const summary = {
      kills: landed.length,
      finishedBeforeTheKill: attempts.length - landed.length,
      uniform: {
        noFileOrOldPair: count((a) => a.phase === 'uniform' && (a.state === 'none' || a.state === 'old')),
        newPair: count((a) => a.phase === 'uniform' && a.state === 'new'),
        torn: count((a) => a.phase === 'uniform' && a.state === 'torn'),
      },
      writePhase: {
        noFileOrOldPair: count((a) => a.phase === 'write-phase' && (a.state === 'none' || a.state === 'old')),
        newPair: count((a) => a.phase === 'write-phase' && a.state === 'new'),
        torn: count((a) => a.phase === 'write-phase' && a.state === 'torn'),
      },
      tornIn: landed.filter((a) => a.state === 'torn').map((a) => `${a.scenario} (${a.phase})`),
      killsThatLeftTempFiles: count((a) => a.tempsLeft > 0),
      staleTempsRemovedByTheFinalRuns: finals.map((f) => f.staleTempsBefore),
      measured,
    };
    console.log(`crash test: ${JSON.stringify(summary)}`);

    expect(landed.length, 'at least 50 kills landed').toBeGreaterThanOrEqual(50);
    expect(
      summary.uniform.noFileOrOldPair + summary.writePhase.noFileOrOldPair,
      'kills before the new files appeared',
    ).toBeGreaterThan(0);
    expect(summary.uniform.newPair + summary.writePhase.newPair, 'kills after the new files appeared').toBeGreaterThan(
      0,
    );
    expect(summary.killsThatLeftTempFiles, 'some kills left temp files for the next run to remove').toBeGreaterThan(0);
    expect(finals.every((f) => f.staleTempsBefore > 0)).toBe(true);
    // The uniform kills were spread over the whole run, and those that landed cover it from
    // start-up to the write phase (a kill late in a run that was faster than the median finds it
    // finished: at least three quarters must have landed kills).
    const uniform = attempts.filter((a) => a.phase === 'uniform');
    const quarters = (list: Attempt[]) => new Set(list.map((a) => Math.min(3, Math.floor(a.fraction * 4))));
    expect([...quarters(uniform)].sort(), 'uniform kills were aimed at every quarter of the run').toEqual([0, 1, 2, 3]);
    expect(
      quarters(uniform.filter((a) => a.killed)).size,
      'uniform kills landed in at least three quarters of the run',
    ).toBeGreaterThanOrEqual(3);
  });
});
