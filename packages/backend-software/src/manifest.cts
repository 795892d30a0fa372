import type { BackendManifest } from '@keymint/core';

/**
 * How keymint knows this backend without loading it (`@keymint/backend-software/manifest`): it
 * imports nothing at run time, and is CommonJS, so reading it does not start Node's ES module loader.
 */
const manifest: BackendManifest = {
  apiVersion: 1,
  name: 'software',
  summary: "keys made with Node's crypto (OpenSSL); the private key is written to a file, encrypted by default",
  install: 'npm install --global @keymint/cli (the software backend comes with it)',
  flags: [],
  environment: [],
  operations: [],
  load: async () => (await import('./index.js')).default,
};

export = manifest;
