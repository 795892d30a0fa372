import { describeBackendConformance } from '@keymint/core/testing';
import { softwareBackend } from '../src/index.js';

describeBackendConformance('software', () => softwareBackend(), {
  reload: { module: new URL('../dist/index.js', import.meta.url) },
});

// The CLI's way: EC and OKP keys made on the calling thread (see single-operation.test.ts).
describeBackendConformance('software, one operation per process', () => softwareBackend({ singleOperation: true }), {
  reload: { module: new URL('../dist/index.js', import.meta.url) },
});
