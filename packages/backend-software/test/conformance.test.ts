import { describeBackendConformance } from '@keymint/core/testing';
import { softwareBackend } from '../src/index.js';

describeBackendConformance('software', () => softwareBackend());
