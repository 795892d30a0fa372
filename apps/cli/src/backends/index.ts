import { ErrorCode, KeymintError, oneOf, type BackendFactory, type KeyBackend } from '@keymint/core';
import { promptSecret } from '../prompt.js';
import { keychain } from './keychain.js';
import { pkcs11 } from './pkcs11.js';
import { software } from './software.js';
import type { BackendContext, BackendEntry } from './types.js';

export type { BackendContext, BackendEntry, BackendFlag } from './types.js';

/**
 * The backends the CLI knows. Each is imported only when used, so that `keymint --help` and
 * software keys never load a native library.
 */
export const BACKENDS: readonly BackendEntry[] = [software, keychain, pkcs11];

export const BACKEND_NAMES = BACKENDS.map((b) => b.name);

/**
 * Finds a backend entry by name.
 * @throws KeymintError ERR_USAGE for an unknown name
 */
export function backendEntry(name: string): BackendEntry {
  const entry = BACKENDS.find((b) => b.name === name);
  if (entry === undefined) throw new KeymintError(ErrorCode.USAGE, `--backend "${name}" is not a backend: use ${oneOf(BACKEND_NAMES)}`);
  return entry;
}

/**
 * Loads and starts a backend by name, with the options its entry derives from the command line.
 * @throws KeymintError ERR_USAGE for an unknown name, ERR_BACKEND_UNAVAILABLE when it cannot load
 */
export async function openBackend(name: string, context: BackendContext): Promise<KeyBackend> {
  const entry = backendEntry(name);
  let factory: BackendFactory<Record<string, unknown>>;
  try {
    factory = (await entry.load()).default as BackendFactory<Record<string, unknown>>;
  } catch (cause) {
    throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, `the ${name} backend could not be loaded`, { cause, hint: `install it: ${entry.install}` });
  }
  return factory(await entry.factoryOptions(context));
}

/** The context a command gives backends: its flags, and the terminal unless --json. */
export function backendContext(options: Record<string, unknown>): BackendContext {
  return {
    options,
    noPrompt: options.json === true,
    promptSecret: (question) =>
      promptSecret(question, () => new KeymintError(ErrorCode.PASSWORD_REQUIRED, `${question.replace(/:\s*$/, '')}: there is no terminal to ask on`)),
  };
}
