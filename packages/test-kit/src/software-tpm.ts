import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool } from './tools.js';

/**
 * The script that starts and stops the software TPM. The README tells users to run it, so the
 * tests run it too: it stays the one implementation, and this module only drives it.
 */
export const SOFTWARE_TPM_SCRIPT = fileURLToPath(
  new URL('../../backend-pkcs11/scripts/software-tpm.sh', import.meta.url),
);

/**
 * A software TPM (swtpm) behind tpm2-abrmd on a private D-Bus, with a tpm2-pkcs11 store and one
 * token: plain data, so a vitest global setup can hand it to test files.
 */
export interface SoftwareTpm {
  dir: string;
  module: string;
  token: { label: string; pin: string; soPin: string };
  /** The token's RFC 7512 URI, without a PIN. */
  uri: string;
  /** What the script exported: TPM2_PKCS11_TCTI, TPM2_PKCS11_STORE, DBUS_SESSION_BUS_ADDRESS, TPM2TOOLS_TCTI ... */
  env: Record<string, string>;
  pids: { swtpm: number; dbus: number; abrmd: number };
}

function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const match of text.matchAll(/^export ([A-Z0-9_]+)='([^']*)'$/gm)) env[match[1] as string] = match[2] as string;
  return env;
}

function pidOf(dir: string, name: string): number {
  return Number.parseInt(readFileSync(join(dir, `${name}.pid`), 'utf8').trim(), 10);
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts swtpm, a private dbus-daemon and tpm2-abrmd, and makes a tpm2-pkcs11 store with one
 * token, through scripts/software-tpm.sh in a temp dir. Each service is checked before the next
 * starts; when one fails, the error names it and shows its log.
 * @throws Error naming the service that did not start
 * @example const tpm = startSoftwareTpm(); try { ... } finally { stopSoftwareTpm(tpm); }
 */
export function startSoftwareTpm(token: { label?: string; pin?: string; soPin?: string } = {}): SoftwareTpm {
  const { label = 'keymint-tpm', pin = '123456', soPin = '12345678' } = token;
  const dir = mkdtempSync(join(tmpdir(), 'keymint-tpm-'));
  let out: string;
  try {
    out = runTool(SOFTWARE_TPM_SCRIPT, ['start', dir, label, pin, soPin]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const env = parseExports(out);
  const module = env.KEYMINT_TPM_MODULE;
  if (module === undefined || env.TPM2_PKCS11_STORE === undefined) {
    throw new Error(`software-tpm.sh printed no environment: ${out}`);
  }
  return {
    dir,
    module,
    token: { label, pin, soPin },
    uri: `pkcs11:token=${label}?module-path=${module}`,
    env,
    pids: { swtpm: pidOf(dir, 'swtpm'), dbus: pidOf(dir, 'dbus'), abrmd: pidOf(dir, 'abrmd') },
  };
}

/**
 * Stops tpm2-abrmd, dbus-daemon and swtpm by their PIDs (the script's `stop`), checks that they
 * are gone, and removes the temp dir.
 * @throws Error naming any process left running
 */
export function stopSoftwareTpm(tpm: SoftwareTpm): void {
  try {
    runTool(SOFTWARE_TPM_SCRIPT, ['stop', tpm.dir]);
  } finally {
    rmSync(tpm.dir, { recursive: true, force: true });
  }
  const left = Object.entries(tpm.pids).filter(([, pid]) => running(pid));
  const names = left.map(([name, pid]) => `${name} (${pid})`);
  if (names.length > 0) throw new Error(`the software TPM left processes running: ${names.join(', ')}`);
}
