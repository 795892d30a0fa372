import { describeBackendConformance } from '@keymint/core/testing';
import { softwareBackend } from '../src/index.js';

describeBackendConformance('software', () => softwareBackend(), {
  reload: { module: new URL('../dist/index.js', import.meta.url) },
});
