import { ErrorCode, KeymintError, oneOf, type BackendFactory, type KeyBackend } from '@keymint/core';

/**
 * Backends the CLI knows, each imported only when asked for, so that `keymint --help` and
 * software keys never load a native library.
 */
const LOADERS: Record<string, { load: () => Promise<{ default: BackendFactory<never> }>; install: string }> = {
  software: { load: () => import('@keymint/backend-software'), install: 'pnpm add @keymint/backend-software' },
};

export const BACKEND_NAMES = Object.keys(LOADERS);

/**
 * Loads and starts a backend by name.
 * @throws KeymintError ERR_USAGE for an unknown name, ERR_BACKEND_UNAVAILABLE when it cannot load
 */
export async function openBackend(name: string, options?: Record<string, unknown>): Promise<KeyBackend> {
  const entry = LOADERS[name];
  if (entry === undefined) throw new KeymintError(ErrorCode.USAGE, `--backend "${name}" is not a backend: use ${oneOf(BACKEND_NAMES)}`);
  let factory: BackendFactory<Record<string, unknown>>;
  try {
    factory = (await entry.load()).default as BackendFactory<Record<string, unknown>>;
  } catch (cause) {
    throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, `the ${name} backend could not be loaded`, { cause, hint: `install it: ${entry.install}` });
  }
  return factory(options);
}
