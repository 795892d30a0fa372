import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's SoftHSM2 module. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const PIN = '246810';

/** A SoftHSM2 token store in a temp dir of its own, for one test file. */
export interface SoftHsm {
  dir: string;
  conf: string;
  labels: string[];
  pinFile: string;
  /** The token's URI with pin-source; `path` adds path attributes (object=, id=). */
  uri(label: string, options?: { path?: string; pin?: boolean }): string;
  /** Objects on a token, as pkcs11-tool counts them. */
  objects(label: string): number;
  remove(): void;
}

function run(command: string, args: readonly string[], env: Record<string, string>): string {
  const result = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (result.error !== undefined) throw new Error(`${command} could not run (${result.error.message}): run scripts/install-test-tools.sh`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(result.status)}: ${result.stderr}`);
  return result.stdout;
}

/**
 * Initializes SoftHSM2 tokens (softhsm2-util --init-token --free) in a temp dir and points
 * SOFTHSM2_CONF at it, for this process and the keymint processes it starts.
 */
export function startSoftHsm(labels: readonly string[]): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-e2e-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { SOFTHSM2_CONF: conf };
  for (const label of labels) run('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', PIN, '--so-pin', '13579135'], env);
  const pinFile = join(dir, 'pin');
  writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    labels: [...labels],
    pinFile,
    uri: (label, options = {}) =>
      `pkcs11:token=${label}${options.path === undefined ? '' : `;${options.path}`}?module-path=${SOFTHSM_MODULE}${options.pin === false ? '' : `&pin-source=file:${pinFile}`}`,
    objects: (label) =>
      (run('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', label, '--login', '--pin', PIN, '-O'], env).match(/^(Private|Public|Secret) Key Object/gm) ?? []).length,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
