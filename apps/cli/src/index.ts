export { buildProgram, run } from './program.js';
export { EXIT_CODES, exitCodeOf } from './exit-codes.js';
