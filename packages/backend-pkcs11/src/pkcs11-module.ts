import type { Module } from 'graphene-pk11';
import { ErrorCode, KeymintError } from '@keymint/core';
import { loadGraphene, type Graphene } from './load-graphene.js';
import { isTokenUnavailable, UNAVAILABLE_HINT } from './map-pkcs11-error.js';
import { trustModule } from './module-trust.js';
import { CKR } from './pkcs11-constants.js';
import { shownPath } from './shown-path.js';

/** What a module says about itself (CK_INFO). */
export interface ModuleInfo {
  path: string;
  manufacturer: string;
  description: string;
  /** "major.minor" */
  version: string;
  /** The Cryptoki version it implements, "major.minor". */
  cryptokiVersion: string;
}

/** A loaded, initialized module, shared by everyone in the process that uses the same path. */
export interface ModuleHandle {
  graphene: Graphene;
  module: Module;
  info: ModuleInfo;
  /**
   * Whether the module may be called from several threads at once: false when it refused OS
   * locking (CKR_CANT_LOCK) and was started without it.
   */
  concurrent: boolean;
  /** Gives the handle back; the last one out finalizes the module. Safe to call twice. */
  release(): void;
}

type Loaded = Omit<ModuleHandle, 'release'>;

interface Entry {
  refs: number;
  loaded: Promise<Loaded>;
}

/**
 * One entry per module path: C_Initialize and C_Finalize are per process, not per caller, so two
 * backends on one module must share it and only the last one may finalize it.
 */
const modules = new Map<string, Entry>();

/** CKF_OS_LOCKING_OK: keymint calls the module from libuv's worker threads (the async calls). */
const CKF_OS_LOCKING_OK = 0x2;

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

function codeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function version(v: { major: number; minor: number }): string {
  return `${v.major}.${v.minor}`;
}

/** Loads `file` (the checked real path of `path`), the one place where keymint runs a module's code. */
async function load(path: string, file: string): Promise<Loaded> {
  const graphene = await loadGraphene();
  let module: Module;
  try {
    module = graphene.Module.load(file);
  } catch (cause) {
    throw new KeymintError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `${shownPath(path)} is not a PKCS#11 module: it could not be loaded (${firstLine(cause)})`,
      {
        cause,
        hint: 'module-path must name a PKCS#11 library such as /usr/lib/softhsm/libsofthsm2.so',
      },
    );
  }
  let concurrent = true;
  try {
    module.initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (cause) {
    // A module that refuses OS locking can still be used, one call at a time: its token pools keep to one session.
    if (codeOf(cause) === 0x1a1 /* CKR_CANT_LOCK */) {
      module.initialize();
      concurrent = false;
    } else if (isTokenUnavailable(cause)) {
      // p11-kit's client connects to its server in C_Initialize, and fails so when the server goes.
      const message = `the PKCS#11 module ${shownPath(path)} failed to start: the token is unavailable (${firstLine(cause)})`;
      throw new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, message, { cause, hint: UNAVAILABLE_HINT });
    } else if (codeOf(cause) !== CKR.CRYPTOKI_ALREADY_INITIALIZED) {
      throw new KeymintError(
        ErrorCode.BACKEND_UNAVAILABLE,
        `the PKCS#11 module ${shownPath(path)} failed to start (${firstLine(cause)})`,
        {
          cause,
          hint: 'check its configuration: SoftHSM reads SOFTHSM2_CONF; tpm2-pkcs11 reads TPM2_PKCS11_STORE and TPM2_PKCS11_TCTI',
        },
      );
    }
  }
  const info: ModuleInfo = {
    path,
    manufacturer: module.manufacturerID.trim(),
    description: module.libraryDescription.trim(),
    version: version(module.libraryVersion),
    cryptokiVersion: version(module.cryptokiVersion),
  };
  return { graphene, module, info, concurrent };
}

/**
 * Loads and initializes a PKCS#11 module, or shares the one already loaded from that path, when
 * `trustModule` allows it: `chosen` are the modules the user named (see userChosenModules).
 * @throws KeymintError ERR_MODULE_UNTRUSTED before anything is loaded; ERR_BACKEND_UNAVAILABLE
 *   when the binding, the file or its C_Initialize fails
 * @example
 * const handle = await acquireModule('/usr/lib/softhsm/libsofthsm2.so', []);
 * try { ... } finally { handle.release(); }
 */
export async function acquireModule(path: string, chosen: readonly string[]): Promise<ModuleHandle> {
  // Decided on every acquire, also when the module is loaded already: another caller in the
  // process may trust it, this one may not.
  const { file } = trustModule(path, chosen);
  let entry = modules.get(path);
  if (entry === undefined) {
    const created: Entry = { refs: 0, loaded: load(path, file) };
    created.loaded.catch(() => {
      if (modules.get(path) === created) modules.delete(path);
    });
    modules.set(path, created);
    entry = created;
  }
  // Counted before the await, so that a release that races this acquire cannot finalize under it.
  entry.refs += 1;
  const current = entry;
  let loaded: Awaited<typeof current.loaded>;
  try {
    loaded = await current.loaded;
  } catch (error) {
    current.refs -= 1;
    throw error;
  }
  let released = false;
  return {
    ...loaded,
    release: () => {
      if (released) return;
      released = true;
      current.refs -= 1;
      if (current.refs > 0) return;
      if (modules.get(path) === current) modules.delete(path);
      try {
        loaded.module.finalize();
      } catch {
        // Finalizing is best effort: the process may be going away, and nothing can be done about it.
      }
    },
  };
}
