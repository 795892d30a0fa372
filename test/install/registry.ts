import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';

/** An npm registry on 127.0.0.1 that serves a fixed set of tarballs, and nothing else. */
export interface LoopbackRegistry {
  /** http://127.0.0.1:PORT/ */
  url: string;
  /** Every path asked for, in order (`/@keymint/cli`, `/-/tarballs/jose-6.2.17.tgz` ...). */
  requests: string[];
  /** Package names served, each with its versions. */
  packages: Map<string, string[]>;
  close(): Promise<void>;
}

type Manifest = Record<string, unknown> & {
  name: string;
  version: string;
  scripts?: Record<string, string>;
  gypfile?: boolean;
};

function readTar(file: string, args: readonly string[]): string {
  return execFileSync('tar', [...args, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/**
 * What the public registry says of a tarball's version: its package.json, as `npm publish`
 * normalizes it (a package with a binding.gyp and no install script gets `node-gyp rebuild`), and
 * where the tarball is with its integrity.
 */
function versionOf(file: string, bytes: Buffer): Manifest {
  const manifest = JSON.parse(
    execFileSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8' }),
  ) as Manifest;
  const scripts = { ...manifest.scripts };
  const hasGyp = readTar(file, ['-tzf']).split('\n').includes('package/binding.gyp');
  if (hasGyp && manifest.gypfile !== false && scripts.install === undefined && scripts.preinstall === undefined) {
    scripts.install = 'node-gyp rebuild';
    manifest.gypfile = true;
  }
  const hasInstallScript = ['preinstall', 'install', 'postinstall'].some((s) => scripts[s] !== undefined);
  return {
    ...manifest,
    scripts,
    ...(hasInstallScript ? { hasInstallScript: true } : {}),
    _id: `${manifest.name}@${manifest.version}`,
    dist: {
      tarball: `/-/tarballs/${basename(file)}`,
      integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
      shasum: createHash('sha1').update(bytes).digest('hex'),
    },
  };
}

/**
 * Starts a registry that answers npm from `tarballs` (packuments built from their package.json,
 * the tarballs themselves) and 404 for anything else: an install from it needs no network, and
 * whatever it installs came from these files. Optional packages it lacks (other platforms'
 * binaries) are a 404, which npm skips as it does for a failed optional dependency.
 * @example const registry = await startRegistry(files); ... npm_config_registry: registry.url
 */
export async function startRegistry(tarballs: readonly string[]): Promise<LoopbackRegistry> {
  const packuments = new Map<
    string,
    { name: string; 'dist-tags': { latest: string }; versions: Record<string, Manifest> }
  >();
  const files = new Map<string, Buffer>();
  for (const file of tarballs) {
    const bytes = readFileSync(file);
    const version = versionOf(file, bytes);
    files.set(basename(file), bytes);
    const packument = packuments.get(version.name) ?? {
      name: version.name,
      'dist-tags': { latest: version.version },
      versions: {},
    };
    packument.versions[version.version] = version;
    packuments.set(version.name, packument);
  }
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? '/').split('?')[0] ?? '/');
    requests.push(path);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const tarball = path.startsWith('/-/tarballs/') ? files.get(path.slice('/-/tarballs/'.length)) : undefined;
    const packument = packuments.get(path.slice(1));
    if (tarball !== undefined) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    } else if (packument !== undefined) {
      const versions = Object.fromEntries(
        Object.entries(packument.versions).map(([v, m]) => [
          v,
          { ...m, dist: { ...(m.dist as object), tarball: `${base}${(m.dist as { tarball: string }).tarball}` } },
        ]),
      );
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...packument, versions }));
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    packages: new Map([...packuments].map(([name, p]) => [name, Object.keys(p.versions)])),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
