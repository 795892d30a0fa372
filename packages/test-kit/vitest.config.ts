import { keymintTestConfig } from '../../vitest.shared.js';

export default keymintTestConfig();
