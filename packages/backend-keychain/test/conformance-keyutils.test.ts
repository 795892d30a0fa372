import { afterAll, beforeAll } from 'vitest';
import { describeBackendConformance } from '@keymint/core/testing';
import { keychainBackend } from '../src/index.js';
import { assertKeyutilsUsable, oneKeyAtATime, removeAllKeys, uniqueService } from './support/keys.js';

const service = uniqueService('conformance-keyutils');
beforeAll(assertKeyutilsUsable);
afterAll(() => removeAllKeys(service, 'keyutils'));

describeBackendConformance('keychain (keyutils)', () => oneKeyAtATime(keychainBackend({ service, store: 'keyutils' })));
