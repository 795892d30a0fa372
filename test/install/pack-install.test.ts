import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, expectError, expectKeyPair, readJson, type Jwk, type RunResult } from '../helpers.js';
import { expectOk, startSoftHsm, type SoftHsm } from '@keymint/test-kit';
import {
  NPM_CLI,
  PUBLISHED,
  TOOLCHAIN,
  npmPack,
  packFixture,
  packWorkspace,
  productionClosure,
  runClean,
  toolsWithoutCompilers,
} from './packages.js';
import { startRegistry, type LoopbackRegistry } from './registry.js';

// keymint as a user gets it from npm: every package packed, the third-party packages they need
// packed from this checkout's install, all served by a registry on 127.0.0.1 (the only registry
// npm is given; anything else goes to a closed proxy port), installed with npm into fresh
// prefixes. Nothing comes from the network, and nothing from the workspace but tarballs.

/** SHA-256 of the Apache License 2.0 text, as https://www.apache.org/licenses/LICENSE-2.0.txt has it. */
const APACHE_2_SHA256 = 'cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30';

let root: string;
let registry: LoopbackRegistry;
let tools: string;
let nodedir: string;
let workspaceTarballs: string[];
const home = () => join(root, 'home');

/** The environment of a user: only PATH and HOME, and what the test adds. */
const userEnv = (path: string, extra: Record<string, string> = {}) => ({ PATH: path, HOME: home(), ...extra });

/** npm's settings: this registry only, a fresh cache, no user config, no audit/fund/update checks. */
function npmEnv(path: string, prefix?: string): Record<string, string> {
  return {
    ...userEnv(path),
    npm_config_registry: registry.url,
    npm_config_cache: join(root, 'npm-cache'),
    npm_config_userconfig: join(root, 'npmrc'),
    npm_config_globalconfig: join(root, 'npmrc-global'),
    // As scripts/install.sh sets it: node-gyp builds against this Node's headers, nothing downloaded.
    npm_config_nodedir: nodedir,
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    // Offline by construction: any request that is not for the loopback registry meets a closed port.
    npm_config_proxy: 'http://127.0.0.1:9',
    npm_config_https_proxy: 'http://127.0.0.1:9',
    npm_config_noproxy: '127.0.0.1',
    ...(prefix === undefined ? {} : { npm_config_prefix: prefix }),
  };
}

/** Runs `npm <args>` with this Node (npm itself is not looked up on PATH). */
function npm(args: readonly string[], options: { cwd: string; path: string; prefix?: string }): Promise<RunResult> {
  return runClean(process.execPath, [NPM_CLI, ...args], {
    cwd: options.cwd,
    env: npmEnv(options.path, options.prefix),
  });
}

/** The PATH of this machine, with its compilers. */
const FULL_PATH = process.env.PATH ?? '/usr/bin:/bin';

/** A fresh directory under the test's root. */
function dir(...names: string[]): string {
  const path = join(root, ...names);
  mkdirSync(path, { recursive: true });
  return path;
}

/** The keymint an npm prefix installed, run as a user with `path`. */
function keymintIn(
  prefix: string,
  args: readonly string[],
  options: { cwd: string; path: string; env?: Record<string, string> },
): Promise<RunResult> {
  return runClean(join(prefix, 'bin', 'keymint'), args, { cwd: options.cwd, env: userEnv(options.path, options.env) });
}

async function verifyJws(jws: string, publicJwk: Jwk, payload: string): Promise<void> {
  const alg = publicJwk.alg as string;
  const verified = await compactVerify(jws.trim(), await importJWK(publicJwk as never, alg), { algorithms: [alg] });
  expect(new TextDecoder().decode(verified.payload)).toBe(payload);
  expect(verified.protectedHeader.kid).toBe(publicJwk.kid);
}

const flat = (text: string) => text.replace(/\s+/g, ' ');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'keymint-install-'));
  dir('home');
  writeFileSync(join(root, 'npmrc'), '');
  writeFileSync(join(root, 'npmrc-global'), '');
  tools = toolsWithoutCompilers(dir('tools'));
  nodedir = execFileSync('/bin/sh', [join(REPO, 'scripts', 'node-headers.sh')], { encoding: 'utf8' }).trim();
  const tarballs = dir('tarballs');
  const packEnv = userEnv(FULL_PATH, {
    npm_config_cache: join(root, 'npm-cache-pack'),
    npm_config_userconfig: join(root, 'npmrc'),
    npm_config_update_notifier: 'false',
  });
  workspaceTarballs = await packWorkspace(tarballs);
  const thirdParty = await npmPack(productionClosure(), tarballs, dir('staging'), packEnv);
  const fixture = await packFixture(tarballs, dir('staging-fixture'), packEnv);
  registry = await startRegistry([...workspaceTarballs, ...thirdParty, fixture]);
}, 300_000);

afterAll(async () => {
  await registry?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the packed packages', () => {
  it('carry the Apache-2.0 LICENSE, README, engines, repository, and no source map or source', () => {
    expect(
      createHash('sha256')
        .update(readFileSync(join(REPO, 'LICENSE')))
        .digest('hex'),
    ).toBe(APACHE_2_SHA256);
    expect(workspaceTarballs).toHaveLength(PUBLISHED.length);
    for (const [i, tarball] of workspaceTarballs.entries()) {
      const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
      expect(files).toContain('package/LICENSE');
      expect(files).toContain('package/README.md');
      expect(
        files.filter(
          (f) =>
            !/^package\/(dist\/.+\.(js|cjs|d\.c?ts)|dist\/keymint\.cache|dist\/THIRD-PARTY-LICENSES\.txt|LICENSE|README\.md|package\.json)$/.test(
              f,
            ),
        ),
        tarball,
      ).toEqual([]);
      if (PUBLISHED[i] === 'apps/cli') {
        expect(
          files.filter((f) => f.startsWith('package/dist/')).sort(),
          'the CLI ships its bundle and code cache only',
        ).toEqual([
          'package/dist/THIRD-PARTY-LICENSES.txt',
          'package/dist/bin.cjs',
          'package/dist/keymint.cache',
          'package/dist/keymint.cjs',
          'package/dist/sshpk.cjs',
        ]);
        // The notices of what the bundle carries go with it.
        const notices = execFileSync('tar', ['-xzOf', tarball, 'package/dist/THIRD-PARTY-LICENSES.txt'], {
          encoding: 'utf8',
        });
        for (const bundled of ['commander', 'jose', 'sshpk', 'tweetnacl'])
          expect(notices).toMatch(new RegExp(`^${bundled} \\d+\\.\\d+\\.\\d+ \\(`, 'm'));
        expect(notices).toMatch(/Permission is hereby granted/);
      }
      const license = execFileSync('tar', ['-xzOf', tarball, 'package/LICENSE']);
      expect(createHash('sha256').update(license).digest('hex')).toBe(APACHE_2_SHA256);
      const pkg = JSON.parse(
        execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
      ) as Record<string, unknown>;
      expect(pkg).toMatchObject({
        license: 'Apache-2.0',
        engines: { node: '>=20.19' },
        repository: { type: 'git', directory: PUBLISHED[i] },
      });
      expect(JSON.stringify(pkg), 'workspace: ranges are replaced by versions').not.toMatch(/workspace:/);
    }
  });
});

describe('keymint installed with npm from the packed packages', () => {
  /** A prefix installed without a toolchain, then given the PKCS#11 backend and the dir backend. */
  let bare: string;
  /** A key on a SoftHSM2 token, made by the prefix installed with a toolchain. */
  let hsmKey: { ref: string; pub: string; work: string };
  let hsm: SoftHsm;

  afterAll(() => hsm?.remove());

  it('installs with make and the compilers off PATH: npm drops the PKCS#11 backend; software keys work', async () => {
    for (const tool of TOOLCHAIN) {
      expect(
        (await runClean('/bin/sh', ['-c', `command -v ${tool}`], { cwd: root, env: { PATH: tools } })).code,
        `${tool} is hidden`,
      ).not.toBe(0);
    }
    bare = dir('bare');
    const install = expectOk(
      await npm(['install', '--global', '--foreground-scripts', '@keymint/cli'], {
        cwd: root,
        path: tools,
        prefix: bare,
      }),
      'npm install',
    );
    // The native build was tried and failed for want of make; npm then left the optional backend out.
    expect(install.stdout + install.stderr).toMatch(/gyp ERR! stack Error: not found: make/);
    const modules = join(bare, 'lib', 'node_modules', '@keymint', 'cli', 'node_modules');
    expect(readdirSync(join(modules, '@keymint')).sort()).toEqual(['backend-keychain', 'backend-software', 'core']);
    expect(existsSync(join(modules, 'pkcs11js'))).toBe(false);

    const work = dir('bare-work');
    expect(expectOk(await keymintIn(bare, ['--version'], { cwd: work, path: tools }), '--version').stdout).toBe(
      '0.1.0\n',
    );
    expect(expectOk(await keymintIn(bare, ['--help'], { cwd: work, path: tools }), '--help').stdout).toMatch(
      /^Usage: keymint /,
    );
    expectOk(
      await keymintIn(bare, ['create', '--no-password', '--insecure', 'demo.pub.json', 'demo.json'], {
        cwd: work,
        path: tools,
      }),
      'create',
    );
    expectKeyPair(readJson<Jwk>(join(work, 'demo.json')), readJson<Jwk>(join(work, 'demo.pub.json')));
  });

  it('names the install command of the PKCS#11 backend it lacks: exit 2 for --backend pkcs11', async () => {
    const work = dir('bare-work');
    const help = expectOk(
      await keymintIn(bare, ['create', '--help'], { cwd: work, path: tools }),
      'create --help',
    ).stdout;
    expect(flat(help)).toContain(
      '--backend <name> where the key is made and kept: software, keychain (default: "software")',
    );
    expect(help).not.toMatch(/pkcs11/);
    const result = await keymintIn(bare, ['create', '--backend', 'pkcs11', 'hsm.pub.json', 'hsm.json'], {
      cwd: work,
      path: tools,
    });
    expectError(
      result,
      2,
      /--backend "pkcs11" is not a backend installed here: use software or keychain/,
      /npm install --global @keymint\/backend-pkcs11/,
    );
    expect(readdirSync(work).sort()).toEqual(['demo.json', 'demo.pub.json']);
  });

  it('installed with scripts off, the PKCS#11 backend lacks its addon: keymint says to reinstall it', async () => {
    const noScripts = dir('no-scripts');
    expectOk(
      await npm(['install', '--global', '--ignore-scripts', '@keymint/cli'], {
        cwd: root,
        path: tools,
        prefix: noScripts,
      }),
      'npm install',
    );
    const modules = join(noScripts, 'lib', 'node_modules', '@keymint', 'cli', 'node_modules');
    expect(existsSync(join(modules, '@keymint', 'backend-pkcs11', 'package.json'))).toBe(true);
    expect(existsSync(join(modules, 'pkcs11js', 'build'))).toBe(false);
    const work = dir('no-scripts-work');
    const uri = 'pkcs11:token=any?module-path=/usr/lib/softhsm/libsofthsm2.so';
    const result = await keymintIn(
      noScripts,
      ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, 'hsm.pub.json', 'hsm.json'],
      { cwd: work, path: tools },
    );
    expectError(
      result,
      5,
      /the PKCS#11 binding \(graphene-pk11 with its native pkcs11js addon\) could not be loaded/,
      /reinstall @keymint\/backend-pkcs11 so that pkcs11js is built/,
    );
    expect(readdirSync(work)).toEqual([]);
  });

  it('installs with a toolchain with the PKCS#11 backend: a key made on a SoftHSM2 token signs', async () => {
    const full = dir('full');
    const install = expectOk(
      await npm(['install', '--global', '--allow-scripts=pkcs11js', '@keymint/cli'], {
        cwd: root,
        path: FULL_PATH,
        prefix: full,
      }),
      'npm install',
    );
    expect(install.stderr, 'pkcs11js may run its build: no install-scripts warning').not.toMatch(/install-scripts/);
    const modules = join(full, 'lib', 'node_modules', '@keymint', 'cli', 'node_modules');
    expect(readdirSync(join(modules, '@keymint')).sort()).toEqual([
      'backend-keychain',
      'backend-pkcs11',
      'backend-software',
      'core',
    ]);
    expect(existsSync(join(modules, 'pkcs11js', 'build', 'Release', 'pkcs11.node'))).toBe(true);

    hsm = startSoftHsm(['install']);
    const work = dir('full-work');
    const env = { SOFTHSM2_CONF: hsm.conf };
    const uri = hsm.uri('install', { path: 'object=k1' });
    expectOk(
      await keymintIn(full, ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, 'hsm.pub.json', 'hsm.json'], {
        cwd: work,
        path: tools,
        env,
      }),
      'create',
    );
    expect(readJson(join(work, 'hsm.json'))).toMatchObject({ type: 'keymint-key-reference', backend: 'pkcs11' });
    expect(hsm.objects('install')).toBe(2);
    writeFileSync(join(work, 'payload.txt'), 'signed on the token');
    const signed = expectOk(
      await keymintIn(full, ['sign', '--key', 'hsm.json', 'payload.txt'], { cwd: work, path: tools, env }),
      'sign',
    );
    await verifyJws(signed.stdout, readJson<Jwk>(join(work, 'hsm.pub.json')), 'signed on the token');
    hsmKey = { ref: join(work, 'hsm.json'), pub: join(work, 'hsm.pub.json'), work };
  });

  it('names the install command for a key reference of a backend it lacks: exit 5', async () => {
    const result = await keymintIn(bare, ['sign', '--key', hsmKey.ref, 'payload.txt'], {
      cwd: hsmKey.work,
      path: tools,
      env: { SOFTHSM2_CONF: hsm.conf },
    });
    expectError(
      result,
      5,
      /the key is kept by the "pkcs11" backend, which this keymint does not have/,
      /npm install --global @keymint\/backend-pkcs11/,
    );
  });

  it('takes that install command with a toolchain: the PKCS#11 backend next to keymint signs', async () => {
    const install = expectOk(
      await npm(['install', '--global', '@keymint/backend-pkcs11'], { cwd: root, path: FULL_PATH, prefix: bare }),
      'npm install',
    );
    // This npm runs the build, and warns that pkcs11js was not named in --allow-scripts.
    expect(install.stderr).toMatch(/npm warn install-scripts +pkcs11js@[\d.]+ \(install: node-gyp rebuild\)/);
    expect(existsSync(join(bare, 'lib', 'node_modules', '@keymint', 'backend-pkcs11', 'package.json'))).toBe(true);
    const signed = expectOk(
      await keymintIn(bare, ['sign', '--key', hsmKey.ref, 'payload.txt'], {
        cwd: hsmKey.work,
        path: tools,
        env: { SOFTHSM2_CONF: hsm.conf },
      }),
      'sign',
    );
    await verifyJws(signed.stdout, readJson<Jwk>(hsmKey.pub), 'signed on the token');
    const help = expectOk(
      await keymintIn(bare, ['create', '--help'], { cwd: hsmKey.work, path: tools }),
      'create --help',
    ).stdout;
    expect(flat(help)).toContain('software, keychain, pkcs11 (default: "software")');
  });

  describe('a backend package from outside keymint (test/fixtures/keymint-backend-dir)', () => {
    let store: string;
    let work: string;

    it('installs next to keymint and is found: its name and flag are in the help of create and keys', async () => {
      expectOk(
        await npm(['install', '--global', 'keymint-backend-dir'], { cwd: root, path: tools, prefix: bare }),
        'npm install',
      );
      expect(existsSync(join(bare, 'lib', 'node_modules', 'keymint-backend-dir', 'dist', 'manifest.cjs'))).toBe(true);
      work = dir('dir-work');
      store = join(work, 'store');
      const create = flat(
        expectOk(await keymintIn(bare, ['create', '--help'], { cwd: work, path: tools }), 'create --help').stdout,
      );
      expect(create).toContain('where the key is made and kept: software, dir, keychain, pkcs11');
      expect(create).toContain(
        '--dir-store <path> [dir] the directory the private keys are kept in (else KEYMINT_DIR_STORE)',
      );
      for (const command of [['sign'], ['jwt'], ['jwt', 'client-assertion']]) {
        const help = flat(
          expectOk(
            await keymintIn(bare, [...command, '--help'], { cwd: work, path: tools }),
            `${command.join(' ')} --help`,
          ).stdout,
        );
        expect(help).toContain('--dir-store <path> [dir] the directory the private keys are kept in');
      }
      for (const operation of ['list', 'delete', 'describe']) {
        const help = flat(
          expectOk(
            await keymintIn(bare, ['keys', operation, '--help'], { cwd: work, path: tools }),
            `keys ${operation} --help`,
          ).stdout,
        );
        // The backends that declare the operation: the software backend declares none.
        expect(help).toContain('--backend <name> the backend: dir, keychain or pkcs11');
        expect(help).toContain('--dir-store <path> [dir]');
      }
    });

    it('creates a key through the CLI, which signs with its reference (verified by jose)', async () => {
      expectOk(
        await keymintIn(bare, ['create', '--backend', 'dir', '--dir-store', 'store', 'dir.pub.json', 'dir.json'], {
          cwd: work,
          path: tools,
        }),
        'create',
      );
      const reference = readJson<{ type: string; backend: string; location: { store: string; id: string } }>(
        join(work, 'dir.json'),
      );
      expect(reference).toMatchObject({
        type: 'keymint-key-reference',
        backend: 'dir',
        location: { store: realpathSync(store) },
      });
      const keyFile = join(store, `${reference.location.id}.json`);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const pub = readJson<Jwk>(join(work, 'dir.pub.json'));
      expectKeyPair(readJson<Jwk>(keyFile), pub);
      writeFileSync(join(work, 'payload.txt'), 'signed by a plug-in');
      const signed = expectOk(
        await keymintIn(bare, ['sign', '--key', 'dir.json', 'payload.txt'], { cwd: work, path: tools }),
        'sign',
      );
      await verifyJws(signed.stdout, pub, 'signed by a plug-in');
      // Its environment variable, as its manifest declares, stands in for the flag.
      const env = { KEYMINT_DIR_STORE: join(work, 'store2') };
      expectOk(
        await keymintIn(bare, ['create', '--backend', 'dir', '--kty', 'OKP', 'ed.pub.json', 'ed.json'], {
          cwd: work,
          path: tools,
          env,
        }),
        'create',
      );
      expect(readJson(join(work, 'ed.json'))).toMatchObject({
        backend: 'dir',
        location: { store: join(work, 'store2') },
      });
    });

    it('lists, describes and deletes its keys through keymint keys --backend dir', async () => {
      const { kid } = readJson<Jwk>(join(work, 'dir.pub.json'));
      const listed = expectOk(
        await keymintIn(bare, ['keys', 'list', '--backend', 'dir', '--dir-store', 'store', '--json'], {
          cwd: work,
          path: tools,
        }),
        'list',
      );
      const listing = JSON.parse(listed.stdout) as {
        backend: string;
        keys: { kid: string; status: string; kty: string }[];
      };
      expect(listing).toMatchObject({ backend: 'dir', keys: [{ kid, status: 'ok', kty: 'EC' }] });
      const described = expectOk(
        await keymintIn(bare, ['keys', 'describe', '--backend', 'dir', '--dir-store', 'store'], {
          cwd: work,
          path: tools,
        }),
        'describe',
      );
      expect(described.stderr).toContain(`keys kept as files in ${realpathSync(store)}: 1 key`);
      expectOk(
        await keymintIn(bare, ['keys', 'delete', '--backend', 'dir', '--dir-store', 'store', '--force', 'dir.json'], {
          cwd: work,
          path: tools,
        }),
        'delete',
      );
      expect(readdirSync(store)).toEqual([]);
      const result = await keymintIn(bare, ['sign', '--key', 'dir.json', 'payload.txt'], { cwd: work, path: tools });
      expectError(result, 16, /no key [0-9a-f]{32} in .*store: it was deleted/);
    });

    it("passes keymint's conformance suite, run on the installed package", async () => {
      const backendDir = join(bare, 'lib', 'node_modules', 'keymint-backend-dir');
      // The suite's own peer dependencies, installed next to it as a backend's author would have them.
      const vitest = realpathSync(join(REPO, 'node_modules', 'vitest'));
      symlinkSync(vitest, join(bare, 'lib', 'node_modules', 'vitest'));
      symlinkSync(
        realpathSync(join(REPO, 'packages', 'core', 'node_modules', 'fast-check')),
        join(bare, 'lib', 'node_modules', 'fast-check'),
      );
      const suite = dir('conformance');
      writeFileSync(
        join(suite, 'conformance.test.mjs'),
        `import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
// Everything from the installed package and the @keymint/core it was installed with.
const fromBackend = createRequire(${JSON.stringify(join(backendDir, 'package.json'))});
const url = (specifier) => pathToFileURL(fromBackend.resolve(specifier)).href;
const { describeBackendConformance } = await import(url('@keymint/core/testing'));
const entry = url('keymint-backend-dir');
const { default: dirBackend } = await import(entry);
const store = ${JSON.stringify(join(suite, 'store'))};
describeBackendConformance('dir', () => dirBackend({ store }), {
  rsaSizes: [2048],
  reload: { module: new URL(entry), options: { store } },
});
`,
      );
      const report = join(suite, 'report.json');
      const run = await runClean(
        process.execPath,
        [join(vitest, 'vitest.mjs'), 'run', '--root', suite, '--reporter=json', `--outputFile=${report}`],
        {
          cwd: suite,
          env: userEnv(tools),
        },
      );
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      const results = readJson<{
        numFailedTests: number;
        numPassedTests: number;
        testResults: { assertionResults: { title: string; status: string }[] }[];
      }>(report);
      const titles = results.testResults.flatMap((r) => r.assertionResults.map((a) => `${a.status} ${a.title}`));
      expect(results.numFailedTests).toBe(0);
      for (const title of [
        'EC P-256 ES256: created or rejected as declared',
        'RSA 2048 RS256: created or rejected as declared',
        'a key written to its file is read and signs in a new process',
        "refuses another backend's key cleanly, and a private JWK if it keeps its keys",
        'lists the keys it holds and deletes them by reference and by id, when it offers list and delete',
        'describes itself, when it offers describe',
        'declares exactly the optional operations it has',
      ]) {
        expect(titles).toContain(`passed ${title}`);
      }
      expect(titles.every((t) => t.startsWith('passed '))).toBe(true);
    });

    it('gives the install command of its manifest when the backend itself cannot be loaded', async () => {
      const entry = join(bare, 'lib', 'node_modules', 'keymint-backend-dir', 'dist', 'dir-backend.js');
      renameSync(entry, `${entry}.gone`);
      try {
        const result = await keymintIn(
          bare,
          ['create', '--backend', 'dir', '--dir-store', 'store', 'x.pub.json', 'x.json'],
          { cwd: work, path: tools },
        );
        expectError(
          result,
          5,
          /the dir backend could not be loaded/,
          /install it: npm install --global keymint-backend-dir/,
        );
      } finally {
        renameSync(`${entry}.gone`, entry);
      }
    });
  });

  it('is required from CommonJS without flags (an npm project that installs @keymint/core)', async () => {
    const app = dir('app');
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "version": "1.0.0", "private": true }\n');
    expectOk(
      await npm(['install', '@keymint/core', '@keymint/backend-software'], { cwd: app, path: tools }),
      'npm install',
    );
    const script = `
      const { createKey, thumbprint } = require('@keymint/core');
      const { softwareBackend } = require('@keymint/backend-software');
      softwareBackend()
        .then((backend) => createKey(backend, { kty: 'OKP' }))
        .then(async (key) => {
          const made = { kid: key.kid, thumbprint: await thumbprint(key.publicJwk), jwk: key.publicJwk };
          console.log(JSON.stringify(made));
        });`;
    const result = expectOk(
      await runClean(process.execPath, ['-e', script], { cwd: app, env: userEnv(tools) }),
      'require',
    );
    expect(result.stderr, 'no warning').toBe('');
    const made = JSON.parse(result.stdout) as { kid: string; thumbprint: string; jwk: Jwk };
    expect(made.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: made.thumbprint });
  });
});
