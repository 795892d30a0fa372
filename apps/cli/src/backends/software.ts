import type { BackendEntry } from './types.js';

export const software: BackendEntry = {
  name: 'software',
  summary: "keys made with Node's crypto; the private key is written to a file (encrypted by default)",
  load: () => import('@keymint/backend-software'),
  install: 'pnpm add @keymint/backend-software',
  flags: [],
  factoryOptions: () => ({}),
};
