import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from './tools.js';

const MODULES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
];

/** SoftHSM2's PKCS#11 module: Debian's path (REFERENCE §5), or where other layouts put it. */
export const SOFTHSM_MODULE: string = MODULES.find((path) => existsSync(path)) ?? (MODULES[0] as string);

/**
 * A SoftHSM2 token store as plain data, which a vitest global setup can hand to test files
 * (`project.provide`); `softHsm(store)` gives it its methods back.
 */
export interface SoftHsmStore {
  /** The temp dir: softhsm2.conf, tokens/, the PIN file. */
  dir: string;
  /** The SOFTHSM2_CONF file; its directories.tokendir is `dir`/tokens. */
  conf: string;
  module: string;
  labels: string[];
  /** The user PIN of every token of the store. */
  pin: string;
  soPin: string;
  /** A 0600 file holding the PIN, for pin-source=file:... */
  pinFile: string;
}

export interface SoftHsm extends SoftHsmStore {
  /** What a process needs to see this store: SOFTHSM2_CONF. */
  env: { SOFTHSM2_CONF: string };
  /**
   * The RFC 7512 URI of a token: `path` adds path attributes (`object=k;type=private`); the PIN
   * comes from the PIN file unless `pin` is false (the caller gives it another way).
   */
  uri(label: string, options?: { path?: string; pin?: boolean }): string;
  /** Key objects on a token, as pkcs11-tool (OpenSC), a tool independent of keymint, counts them. */
  objects(label: string): number;
  /** Removes the store. */
  remove(): void;
}

export interface SoftHsmOptions {
  pin?: string;
  soPin?: string;
  /** Also sets SOFTHSM2_CONF in this process, and so in every process it starts from now on. */
  setEnv?: boolean;
}

/**
 * Makes a SoftHSM2 token store in a temp dir and initialises one token per label
 * (`softhsm2-util --init-token --free`), all with the same PIN.
 * @throws Error when SoftHSM2 is not installed or a token cannot be made
 * @example const softhsm = startSoftHsm(['e2e-create'], { setEnv: true }); afterAll(() => softhsm.remove());
 */
export function startSoftHsm(labels: readonly string[], options: SoftHsmOptions = {}): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'keymint-softhsm-'));
  const pin = options.pin ?? '246810';
  const soPin = options.soPin ?? '13579135';
  const conf = join(dir, 'softhsm2.conf');
  const pinFile = join(dir, 'user.pin');
  try {
    mkdirSync(join(dir, 'tokens'));
    const settings = [
      `directories.tokendir = ${join(dir, 'tokens')}`,
      'objectstore.backend = file',
      'log.level = ERROR',
    ];
    writeFileSync(conf, `${[...settings, 'slots.removable = false'].join('\n')}\n`);
    writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
    for (const label of labels) {
      const init = ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin];
      runTool('softhsm2-util', init, { env: { SOFTHSM2_CONF: conf } });
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  if (options.setEnv === true) process.env.SOFTHSM2_CONF = conf;
  return softHsm({ dir, conf, module: SOFTHSM_MODULE, labels: [...labels], pin, soPin, pinFile });
}

/**
 * The methods of a store made elsewhere (by a vitest global setup, in another process).
 * @example const softhsm = softHsm(inject('softhsm'));
 */
export function softHsm(store: SoftHsmStore): SoftHsm {
  const env = { SOFTHSM2_CONF: store.conf };
  return {
    ...store,
    env,
    uri(label, options = {}) {
      const path = options.path === undefined ? '' : `;${options.path}`;
      const pin = options.pin === false ? '' : `&pin-source=file:${store.pinFile}`;
      return `pkcs11:token=${label}${path}?module-path=${store.module}${pin}`;
    },
    objects(label) {
      const args = ['--module', store.module, '--token-label', label, '--login', '--pin', store.pin, '-O'];
      const listing = runTool('pkcs11-tool', args, { env });
      return (listing.match(/^(Private|Public|Secret) Key Object/gm) ?? []).length;
    },
    remove() {
      rmSync(store.dir, { recursive: true, force: true });
    },
  };
}

/** The data of a store, without its methods: what `project.provide` can carry. */
export function softHsmStore(softhsm: SoftHsmStore): SoftHsmStore {
  const { dir, conf, module, labels, pin, soPin, pinFile } = softhsm;
  return { dir, conf, module, labels, pin, soPin, pinFile };
}
