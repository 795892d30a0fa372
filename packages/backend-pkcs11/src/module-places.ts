import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** Where a system keeps PKCS#11 modules and says which ones it trusts. */
export interface ModulePlaces {
  /** p11-kit's module registry: `<name>.module` files with a `module:` line. */
  registries: readonly string[];
  /** Where p11-kit looks for a module a registration names by a relative path. */
  p11KitModuleDirs: readonly string[];
  /**
   * Directories that hold PKCS#11 modules and nothing else. The general library directories
   * (/usr/lib/x86_64-linux-gnu, /usr/local/lib) are not among them: a library there is not one
   * that anyone installed as a PKCS#11 module, and loading any library runs its code.
   */
  moduleDirs: readonly string[];
}

/** Debian's multiarch directories under /usr/lib. */
const TRIPLETS = [
  'x86_64-linux-gnu',
  'aarch64-linux-gnu',
  'arm-linux-gnueabihf',
  'i386-linux-gnu',
  'powerpc64le-linux-gnu',
  's390x-linux-gnu',
  'riscv64-linux-gnu',
];

/** The places of Linux and macOS distributions. */
export const SYSTEM_MODULE_PLACES: ModulePlaces = {
  registries: ['/etc/pkcs11/modules', '/usr/share/p11-kit/modules'],
  p11KitModuleDirs: [...TRIPLETS.map((t) => `/usr/lib/${t}/pkcs11`), '/usr/lib64/pkcs11', '/usr/lib/pkcs11'],
  moduleDirs: [
    ...TRIPLETS.flatMap((t) => [`/usr/lib/${t}/pkcs11`, `/usr/lib/${t}/softhsm`]),
    '/usr/lib/pkcs11',
    '/usr/lib64/pkcs11',
    '/usr/lib/softhsm',
    '/usr/lib64/softhsm',
    '/usr/local/lib/pkcs11',
    '/usr/local/lib/softhsm',
    '/opt/homebrew/lib/pkcs11',
    '/opt/homebrew/lib/softhsm',
  ],
};

/**
 * Why `name` cannot be an RFC 7512 `module-name`, or undefined when it can. A module name is a
 * file name without directory or suffix; anything that could reach outside the module
 * directories (`/`, `\`, `..`), empty names and control characters are refused, so that a name
 * from a key reference can only ever pick a file inside the places above.
 * @example moduleNameProblem('softhsm2') // undefined
 */
export function moduleNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.includes('..') || /[/\\]/.test(name)) return 'a module name is a bare name, not a path';
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) {
    return "a module name starts with a letter or digit and holds only letters, digits, '.', '_', '+' and '-'";
  }
  return undefined;
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The module file of one p11-kit registration, or undefined when it names none that exists. */
export function registeredModuleFile(registration: string, places: ModulePlaces): string | undefined {
  let text: string;
  try {
    text = readFileSync(registration, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => /^\s*module\s*:/.test(l));
  const module = line?.replace(/^\s*module\s*:\s*/, '').trim();
  if (module === undefined || module === '') return undefined;
  if (isAbsolute(module)) return isFile(module) ? module : undefined;
  return places.p11KitModuleDirs.map((d) => join(d, module)).find(isFile);
}
