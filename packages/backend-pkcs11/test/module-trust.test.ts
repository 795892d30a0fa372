import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SOFTHSM_MODULE, thrown, type KeymintErrorLike } from '@keymint/test-kit';
import { isKeymintError } from '@keymint/core';
import { formatPkcs11Uri } from '../src/format-pkcs11-uri.js';
import { moduleNameProblem, SYSTEM_MODULE_PLACES, type ModulePlaces } from '../src/module-places.js';
import { rootControlProblem, trustModule, userChosenModules } from '../src/module-trust.js';
import { parsePkcs11Uri } from '../src/parse-pkcs11-uri.js';
import type { Pkcs11Uri } from '../src/pkcs11-uri.js';
import { findModuleByName } from '../src/resolve-module-path.js';

/**
 * Which PKCS#11 modules keymint may load, decided on real files: Debian's p11-kit registry and
 * module directories, temp dirs under /tmp (which everyone may write to), and, for the cases that
 * need a directory only root controls, module directories made under /run.
 */

const SOFTHSM_REAL = '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so';
const TPM_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so';
const P11_KIT_CLIENT = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

const scratch = mkdtempSync(join(tmpdir(), 'keymint-trust-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
/** A file under /tmp that stands for a module someone else put there (it is never loaded here). */
const planted = join(scratch, 'libplanted.so');
writeFileSync(planted, 'not loaded by these tests');

function expectUntrusted(error: KeymintErrorLike, path: string): void {
  expect(error.code).toBe('ERR_MODULE_UNTRUSTED');
  expect(error.message).toContain(`the PKCS#11 module ${path}`);
  expect(error.message).toContain('is not trusted');
  expect(error.hint).toBe(`if you trust it, set KEYMINT_PKCS11_MODULES=${path} (or register it with p11-kit)`);
}

describe('modules the system trusts', () => {
  it("p11-kit's registry: Debian's softhsm2.module names SoftHSM by absolute path, tpm2_pkcs11.module relatively", () => {
    const registry = '/usr/share/p11-kit/modules';
    expect(readFileSync(`${registry}/softhsm2.module`, 'utf8')).toMatch(new RegExp(`^module: ${SOFTHSM_REAL}$`, 'm'));
    expect(readFileSync(`${registry}/tpm2_pkcs11.module`, 'utf8')).toMatch(/^module: libtpm2_pkcs11\.so$/m);
    expect(trustModule(SOFTHSM_REAL, [])).toEqual({ file: SOFTHSM_REAL, reason: 'p11-kit' });
    // Debian's /usr/lib/softhsm/libsofthsm2.so is a link to the registered file: the real file is
    // what counts, and what is loaded.
    expect(trustModule(SOFTHSM_MODULE, [])).toEqual({ file: SOFTHSM_REAL, reason: 'p11-kit' });
    expect(trustModule(TPM_MODULE, [])).toEqual({ file: realpathSync(TPM_MODULE), reason: 'p11-kit' });
  });

  it("the places: p11-kit's two registries, and directories that hold PKCS#11 modules only", () => {
    expect(SYSTEM_MODULE_PLACES.registries).toEqual(['/etc/pkcs11/modules', '/usr/share/p11-kit/modules']);
    const dirs = SYSTEM_MODULE_PLACES.moduleDirs;
    expect(dirs).toEqual(
      expect.arrayContaining(['/usr/lib/x86_64-linux-gnu/pkcs11', '/usr/lib/x86_64-linux-gnu/softhsm']),
    );
    const specific = ['/usr/lib/pkcs11', '/usr/lib64/pkcs11', '/usr/lib/softhsm', '/usr/lib64/softhsm'];
    expect(dirs).toEqual(expect.arrayContaining([...specific, '/usr/local/lib/pkcs11', '/usr/local/lib/softhsm']));
    for (const general of [
      '/usr/lib',
      '/usr/lib64',
      '/usr/lib/x86_64-linux-gnu',
      '/usr/local/lib',
      '/opt/homebrew/lib',
    ]) {
      expect(dirs).not.toContain(general);
    }
  });

  it('a system module directory: p11-kit-client.so, root-owned in /usr/lib/x86_64-linux-gnu/pkcs11', () => {
    expect(trustModule(P11_KIT_CLIENT, [])).toEqual({ file: P11_KIT_CLIENT, reason: 'system' });
  });

  it('never a general library directory, nor anything under /tmp: refused, naming the path and how to trust it', () => {
    const libz = '/usr/lib/x86_64-linux-gnu/libz.so.1';
    expectUntrusted(
      thrown(() => trustModule(libz, [])),
      libz,
    );
    const error = thrown(() => trustModule(planted, []));
    expectUntrusted(error, planted);
    expect(error.message).toBe(
      `the PKCS#11 module ${planted} is not trusted: ` +
        'it is not registered with p11-kit, not in a system module directory and not named by you',
    );
  });

  it('".." cannot climb out of a module directory: the path is normalized first', () => {
    const climbing = `/usr/lib/softhsm/../../..${planted}`;
    expect(resolve(climbing)).toBe(planted);
    expectUntrusted(
      thrown(() => trustModule(climbing, [])),
      planted,
    );
  });

  it('a path that leads to no file is reported as missing, not loaded', () => {
    expect(thrown(() => trustModule(join(scratch, 'missing.so'), [])).code).toBe('ERR_BACKEND_UNAVAILABLE');
  });

  it('a link under /tmp to a registered module is that module (its real path is what loads); to a planted file, not', () => {
    const toSoftHsm = join(scratch, 'softhsm-link.so');
    symlinkSync(SOFTHSM_MODULE, toSoftHsm);
    expect(trustModule(toSoftHsm, [])).toEqual({ file: SOFTHSM_REAL, reason: 'p11-kit' });
    const toPlanted = join(scratch, 'planted-link.so');
    symlinkSync(planted, toPlanted);
    const error = thrown(() => trustModule(toPlanted, []));
    expect(error.code).toBe('ERR_MODULE_UNTRUSTED');
    expect(error.message).toContain(`${toPlanted} (a link to ${planted}) is not trusted`);
  });

  it('a control character in a path is shown escaped: the error stays one line', () => {
    const error = thrown(() => trustModule(`${scratch}/x\n.so`, []));
    expect(error.message).toContain(JSON.stringify(`${scratch}/x\n.so`));
  });
});

describe('rootControlProblem: only root may change the file or any directory along its path', () => {
  it('Debian modules pass, through their links (/usr/lib/softhsm/..., pkcs11/libtpm2_pkcs11.so -> ..)', () => {
    expect(rootControlProblem(SOFTHSM_MODULE)).toBeUndefined();
    expect(rootControlProblem(TPM_MODULE)).toBeUndefined();
  });

  it('/tmp, sticky and writable by everyone, never passes', () => {
    expect(rootControlProblem(planted)).toBe('/tmp is writable by everyone');
  });
});

/** A directory tree that only root controls: /run and / are root's, and so is everything made here. */
function rootOnlyDir(): string {
  const dir = mkdtempSync('/run/keymint-trust-');
  chmodSync(dir, 0o755);
  return dir;
}

describe.runIf(IS_ROOT)('module directories and registrations of our own, in a tree only root controls', () => {
  const root = IS_ROOT ? rootOnlyDir() : '';
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const moduleDir = join(root, 'pkcs11');
  const registry = join(root, 'registry');
  const places: ModulePlaces = { registries: [registry], p11KitModuleDirs: [moduleDir], moduleDirs: [moduleDir] };
  if (IS_ROOT) {
    mkdirSync(moduleDir, { mode: 0o755 });
    mkdirSync(registry, { mode: 0o755 });
  }
  /** A module file in the module dir, mode 0755 and root's unless changed. */
  function moduleFile(name: string, mode = 0o755): string {
    const path = join(moduleDir, name);
    copyFileSync(planted, path);
    chmodSync(path, mode);
    return path;
  }

  it('a root-owned file that nobody else may write, in a root-owned module directory: trusted', () => {
    const path = moduleFile('libgood.so');
    expect(rootControlProblem(path)).toBeUndefined();
    expect(trustModule(path, [], places)).toEqual({ file: path, reason: 'system' });
  });

  it.each([
    ['writable by its group', 0o775, 'writable by its group'],
    ['writable by everyone', 0o757, 'writable by everyone'],
  ])('a module file %s: refused, saying which', (_name, mode, why) => {
    const path = moduleFile(`lib-${mode.toString(8)}.so`, mode);
    const error = thrown(() => trustModule(path, [], places));
    expectUntrusted(error, path);
    expect(error.message).toBe(
      `the PKCS#11 module ${path} is not trusted: it is in ${moduleDir}, but ${path} is ${why}`,
    );
  });

  it('a module file owned by another user: refused', () => {
    const path = moduleFile('libnobody.so');
    chownSync(path, NOBODY, NOBODY);
    const error = thrown(() => trustModule(path, [], places));
    expect(error.message).toContain(`but ${path} is owned by uid ${NOBODY}, not root`);
  });

  it('a module directory that others may write to: refused, whoever owns the file', () => {
    const open = join(root, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const path = join(open, 'libx.so');
    copyFileSync(planted, path);
    chmodSync(path, 0o755);
    const error = thrown(() => trustModule(path, [], { ...places, moduleDirs: [open] }));
    expect(error.message).toContain(`but ${open} is writable by everyone`);
  });

  it('a link in a module directory: trusted when its target and all above are root-only; not when it leads to /tmp', () => {
    const elsewhere = join(root, 'lib');
    mkdirSync(elsewhere, { mode: 0o755 });
    const target = join(elsewhere, 'libreal.so.1');
    copyFileSync(planted, target);
    chmodSync(target, 0o755);
    symlinkSync(target, join(moduleDir, 'libreal.so'));
    expect(trustModule(join(moduleDir, 'libreal.so'), [], places)).toEqual({ file: target, reason: 'system' });

    symlinkSync(planted, join(moduleDir, 'libtmp.so'));
    const error = thrown(() => trustModule(join(moduleDir, 'libtmp.so'), [], places));
    expect(error.message).toBe(
      `the PKCS#11 module ${join(moduleDir, 'libtmp.so')} (a link to ${planted}) is not trusted: ` +
        `it is in ${moduleDir}, but /tmp is writable by everyone`,
    );
  });

  it('a p11-kit registration trusts its module wherever it is; a registration others may write trusts nothing', () => {
    const registration = join(registry, 'planted.module');
    writeFileSync(registration, `# p11-kit module\nmodule: ${planted}\n`, { mode: 0o644 });
    expect(trustModule(planted, [], places)).toEqual({ file: planted, reason: 'p11-kit' });
    chmodSync(registration, 0o666);
    expectUntrusted(
      thrown(() => trustModule(planted, [], places)),
      planted,
    );
    chmodSync(registration, 0o644);
    chownSync(registration, NOBODY, NOBODY);
    expectUntrusted(
      thrown(() => trustModule(planted, [], places)),
      planted,
    );
  });

  it('a registration with a relative module: line names a file in the p11-kit module directory', () => {
    const path = moduleFile('librelative.so', 0o777);
    writeFileSync(join(registry, 'relative.module'), 'module: librelative.so\n', { mode: 0o644 });
    // The file itself is writable by everyone, so only the registration can make it trusted.
    expect(trustModule(path, [], places)).toEqual({ file: path, reason: 'p11-kit' });
  });
});

describe('modules the user named', () => {
  it('the same file, compared by real path on both sides: a link to a chosen file is fine', () => {
    expect(trustModule(planted, [planted])).toEqual({ file: planted, reason: 'user' });
    const link = join(scratch, 'chosen-link.so');
    symlinkSync(planted, link);
    expect(trustModule(link, [planted])).toEqual({ file: planted, reason: 'user' });
    expect(trustModule(planted, [link])).toEqual({ file: planted, reason: 'user' });
    expect(trustModule(`${scratch}/sub/../libplanted.so`, [planted]).reason).toBe('user');
  });

  it('a trusted name never makes a different file trusted', () => {
    const other = join(scratch, 'libother.so');
    writeFileSync(other, 'another file');
    expectUntrusted(
      thrown(() => trustModule(other, [planted])),
      other,
    );
    const toSoftHsm = join(scratch, 'trusted-link.so');
    symlinkSync(SOFTHSM_MODULE, toSoftHsm);
    // Trusting a link to SoftHSM trusts SoftHSM, not the planted file the link is compared with.
    expectUntrusted(
      thrown(() => trustModule(planted, [toSoftHsm])),
      planted,
    );
  });

  it('userChosenModules: the URI and module path given, trustedModules, and the environment', () => {
    const env = {
      KEYMINT_PKCS11_MODULES: '/opt/a/liba.so::/opt/b/libb.so',
      KEYMINT_PKCS11_MODULE: '/opt/c/libc.so',
      KEYMINT_PKCS11_URI: 'pkcs11:token=t?module-path=/opt/d/libd.so',
    };
    const uri = parsePkcs11Uri('pkcs11:token=t?module-path=/opt/e/libe.so');
    const chosen = userChosenModules({ uri, modulePath: 'rel/libf.so', trustedModules: ['/opt/g/libg.so'] }, env);
    const fromEnv = ['/opt/c/libc.so', '/opt/d/libd.so', '/opt/a/liba.so', '/opt/b/libb.so'];
    expect(chosen).toEqual(['/opt/e/libe.so', resolve('rel/libf.so'), '/opt/g/libg.so', ...fromEnv]);
    expect(userChosenModules({ uri: parsePkcs11Uri('pkcs11:?module-name=softhsm2') }, {})).toEqual([SOFTHSM_REAL]);
    expect(userChosenModules({}, { KEYMINT_PKCS11_URI: 'not a uri' })).toEqual([]);
    expect(userChosenModules({}, {})).toEqual([]);
  });

  it('KEYMINT_PKCS11_MODULES with a relative path: ERR_USAGE (its meaning would change with the directory)', () => {
    const error = thrown(() => userChosenModules({}, { KEYMINT_PKCS11_MODULES: '/opt/a.so:lib/b.so' }));
    expect(error.code).toBe('ERR_USAGE');
    expect(error.message).toBe(
      'KEYMINT_PKCS11_MODULES holds the relative path lib/b.so: it lists absolute paths of modules',
    );
  });
});

describe('module-name: a bare name, looked up only in the registry and the module directories', () => {
  it.each([
    ['empty', ''],
    ['a parent directory', '..'],
    ['a climb', '../../tmp/libplanted'],
    ['a path', 'x/y'],
    ['an absolute path', '/tmp/libplanted'],
    ['a backslash', '..\\x'],
    ['a NUL', 'softhsm2\u0000'],
    ['".." inside', 'a..b'],
  ])('%s is refused by the URI parser (ERR_USAGE) and by findModuleByName (ERR_PARAM_INVALID)', (_name, name) => {
    const parsed = thrown(() => parsePkcs11Uri(formatPkcs11Uri({ moduleName: name })));
    expect(parsed.code).toBe('ERR_USAGE');
    expect(parsed.message).toContain(`module-name=${JSON.stringify(name)} is not a module name`);
    expect(thrown(() => findModuleByName(name)).code).toBe('ERR_PARAM_INVALID');
  });

  it('finds registered names and files in module directories, never in a general library directory', () => {
    expect(findModuleByName('softhsm2')).toBe(SOFTHSM_REAL);
    expect(findModuleByName('libsofthsm2')).toBe(SOFTHSM_REAL);
    expect(findModuleByName('p11-kit-client')).toBe(P11_KIT_CLIENT);
    // /usr/lib/x86_64-linux-gnu/libc.so exists (with the C compiler these tests need), and is no module.
    expect(readFileSync('/usr/lib/x86_64-linux-gnu/libc.so', 'utf8')).toContain('GROUP');
    expect(findModuleByName('c')).toBeUndefined();
  });

  it('any name: refused, found nowhere, or a file in a module directory or registered with p11-kit (3000 names)', () => {
    const registrations = ['softhsm2', 'tpm2_pkcs11', 'opensc-pkcs11', 'p11-kit-trust', 'gnome-keyring'];
    const registered = new Set(registrations.map((n) => findModuleByName(n)));
    const inModuleDir = (path: string) =>
      SYSTEM_MODULE_PLACES.moduleDirs.some((d) => resolve(path).startsWith(d + sep));
    const pieces = fc.constantFrom(
      '..',
      '.',
      '/',
      '\\',
      '\u0000',
      'lib',
      'softhsm2',
      'tmp',
      'x86_64-linux-gnu',
      '.so',
      'c',
    );
    const joined = fc.array(pieces, { maxLength: 8 }).map((p) => p.join(''));
    const names = fc.oneof(fc.string(), joined, fc.stringMatching(/^[a-z0-9._+-]{0,12}$/));
    fc.assert(
      fc.property(names, (name) => {
        let uri: Pkcs11Uri;
        try {
          uri = parsePkcs11Uri(formatPkcs11Uri({ moduleName: name }));
        } catch (error) {
          expect(isKeymintError(error, 'ERR_USAGE')).toBe(true);
          expect(moduleNameProblem(name)).toBeDefined();
          return;
        }
        expect(uri.moduleName).toBe(name);
        expect(name).not.toMatch(/^$|\.\.|[/\\\u0000]/);
        const found = findModuleByName(name);
        if (found !== undefined) expect(registered.has(found) || inModuleDir(found), `${name} -> ${found}`).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
