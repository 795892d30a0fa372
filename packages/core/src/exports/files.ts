/** @keymint/core/files: key files written atomically with safe modes, and bounded reads of inputs. */
export * from '../files.js';
