import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCode, KeymintError } from '@keymint/core';
import { isFile, moduleNameProblem, registeredModuleFile, SYSTEM_MODULE_PLACES } from './module-places.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';
import { shownPath } from './shown-path.js';

function fromP11Kit(name: string): string | undefined {
  for (const registry of SYSTEM_MODULE_PLACES.registries) {
    const found = registeredModuleFile(join(registry, `${name}.module`), SYSTEM_MODULE_PLACES);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Finds a module by its RFC 7512 `module-name`: a p11-kit module registration of that name, else
 * `name.so`, `libname.so` or `name` in a system module directory (/usr/lib/softhsm,
 * /usr/lib/x86_64-linux-gnu/pkcs11 ...), never in a general library directory. Whether the file
 * found may be loaded is decided apart, when it is loaded.
 * @throws KeymintError ERR_PARAM_INVALID when `name` is empty, a path, or holds `..`
 * @example findModuleByName('softhsm2') // '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'
 */
export function findModuleByName(name: string): string | undefined {
  const problem = moduleNameProblem(name);
  if (problem !== undefined) {
    const message = `${JSON.stringify(name)} is not a PKCS#11 module name: ${problem}`;
    throw new KeymintError(ErrorCode.PARAM_INVALID, message, {
      hint: "give a name such as 'softhsm2', or the module's path",
    });
  }
  const registered = fromP11Kit(name);
  if (registered !== undefined) return registered;
  const candidates = [`${name}.so`, `lib${name}.so`, `${name}.dylib`, `lib${name}.dylib`, name];
  for (const dir of SYSTEM_MODULE_PLACES.moduleDirs) {
    for (const file of candidates) if (isFile(join(dir, file))) return join(dir, file);
  }
  return undefined;
}

/** The PKCS#11 modules installed in the usual places, for hints ("found: ..."). */
export function installedModules(): string[] {
  const found = new Set<string>();
  for (const dir of SYSTEM_MODULE_PLACES.registries) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      if (!entry.endsWith('.module')) continue;
      const path = fromP11Kit(entry.slice(0, -'.module'.length));
      if (path !== undefined && !/p11-kit-trust|gnome-keyring/.test(path)) found.add(path);
    }
  }
  return [...found];
}

function unavailable(message: string, hint: string): KeymintError {
  return new KeymintError(ErrorCode.BACKEND_UNAVAILABLE, message, { hint });
}

/**
 * The module a URI names: `module-path` (made absolute), else `module-name` looked up, else the
 * fallback (a --pkcs11-module flag, KEYMINT_PKCS11_MODULE, or the module of a key reference).
 * @throws KeymintError ERR_USAGE when nothing names a module; ERR_BACKEND_UNAVAILABLE when the
 *   module file does not exist
 * @example resolveModulePath(parsePkcs11Uri('pkcs11:?module-name=softhsm2'))
 */
export function resolveModulePath(uri: Pkcs11Uri, fallback?: string): string {
  let path: string | undefined;
  if (uri.modulePath !== undefined) path = resolve(uri.modulePath);
  else if (uri.moduleName !== undefined) {
    path = findModuleByName(uri.moduleName);
    if (path === undefined) {
      throw unavailable(
        `no PKCS#11 module named "${uri.moduleName}" is installed`,
        `give its path instead: ?module-path=/path/to/module.so${foundHint()}`,
      );
    }
  } else if (fallback !== undefined && fallback !== '') path = resolve(fallback);
  if (path === undefined) {
    throw new KeymintError(
      ErrorCode.USAGE,
      'no PKCS#11 module given: add ?module-path=/path/to/module.so to the PKCS#11 URI',
      {
        hint: `or set KEYMINT_PKCS11_MODULE${foundHint()}`,
      },
    );
  }
  if (!existsSync(path)) {
    throw unavailable(
      `the PKCS#11 module ${shownPath(path)} does not exist`,
      `install it (SoftHSM: apt-get install softhsm2) or fix module-path${foundHint()}`,
    );
  }
  if (!isFile(path))
    throw unavailable(
      `the PKCS#11 module ${shownPath(path)} is not a file`,
      `module-path must name the module's shared library${foundHint()}`,
    );
  return path;
}

function foundHint(): string {
  const found = installedModules();
  return found.length === 0 ? '' : ` (installed here: ${found.join(', ')})`;
}
