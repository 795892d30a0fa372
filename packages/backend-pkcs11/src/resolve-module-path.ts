import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ErrorCode, KeymintError } from '@keymint/core';
import type { Pkcs11Uri } from './pkcs11-uri.js';

/** Where Linux and macOS distributions put PKCS#11 modules. */
const MODULE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/pkcs11',
  '/usr/lib/aarch64-linux-gnu/pkcs11',
  '/usr/lib/pkcs11',
  '/usr/lib64/pkcs11',
  '/usr/lib/softhsm',
  '/usr/lib64/softhsm',
  '/usr/local/lib/softhsm',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/local/lib',
  '/opt/homebrew/lib',
  '/opt/homebrew/lib/softhsm',
];

/** p11-kit's module registry: `<name>.module` files with a `module:` line. */
const P11_KIT_DIRS = ['/etc/pkcs11/modules', '/usr/share/p11-kit/modules'];

/** p11-kit's own default directory for relative `module:` entries. */
const P11_KIT_MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/pkcs11', '/usr/lib/aarch64-linux-gnu/pkcs11', '/usr/lib64/pkcs11', '/usr/lib/pkcs11'];

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function fromP11Kit(name: string): string | undefined {
  for (const dir of P11_KIT_DIRS) {
    const file = join(dir, `${name}.module`);
    if (!isFile(file)) continue;
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => /^\s*module\s*:/.test(l));
    const module = line?.replace(/^\s*module\s*:\s*/, '').trim();
    if (module === undefined || module === '') continue;
    if (isAbsolute(module)) return module;
    const found = P11_KIT_MODULE_DIRS.map((d) => join(d, module)).find(isFile);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Finds a module by its RFC 7512 `module-name`: a p11-kit module registration of that name, else
 * `name.so`, `libname.so` or `name` in the usual module directories.
 * @example findModuleByName('softhsm2') // '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'
 */
export function findModuleByName(name: string): string | undefined {
  const registered = fromP11Kit(name);
  if (registered !== undefined) return registered;
  const candidates = [`${name}.so`, `lib${name}.so`, `${name}.dylib`, `lib${name}.dylib`, name];
  for (const dir of MODULE_DIRS) {
    for (const file of candidates) if (isFile(join(dir, file))) return join(dir, file);
  }
  return undefined;
}

/** The PKCS#11 modules installed in the usual places, for hints ("found: ..."). */
export function installedModules(): string[] {
  const found = new Set<string>();
  for (const dir of P11_KIT_DIRS) {
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
      throw unavailable(`no PKCS#11 module named "${uri.moduleName}" is installed`, `give its path instead: ?module-path=/path/to/module.so${foundHint()}`);
    }
  } else if (fallback !== undefined && fallback !== '') path = resolve(fallback);
  if (path === undefined) {
    throw new KeymintError(ErrorCode.USAGE, 'no PKCS#11 module given: add ?module-path=/path/to/module.so to the PKCS#11 URI', {
      hint: `or set KEYMINT_PKCS11_MODULE${foundHint()}`,
    });
  }
  if (!existsSync(path)) {
    throw unavailable(`the PKCS#11 module ${path} does not exist`, `install it (SoftHSM: apt-get install softhsm2) or fix module-path${foundHint()}`);
  }
  if (!isFile(path)) throw unavailable(`the PKCS#11 module ${path} is not a file`, `module-path must name the module's shared library${foundHint()}`);
  return path;
}

function foundHint(): string {
  const found = installedModules();
  return found.length === 0 ? '' : ` (installed here: ${found.join(', ')})`;
}
