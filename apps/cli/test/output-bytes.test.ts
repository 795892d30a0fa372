import { describe, expect, it } from 'vitest';
import { runAction, type OutputStreams } from '../src/output.js';

function capture(terminal: boolean): OutputStreams & { text: string[]; bytes: Uint8Array[] } {
  const text: string[] = [];
  const bytes: Uint8Array[] = [];
  return {
    text,
    bytes,
    stdout: (t) => text.push(t),
    stdoutBytes: (b) => bytes.push(b),
    stderr: () => undefined,
    stdoutIsTerminal: terminal,
  };
}

describe('runAction: bytes on stdout (a decrypted payload)', () => {
  it('writes them as they are to a pipe or file: no newline added, nothing decoded', async () => {
    const io = capture(false);
    const payload = Uint8Array.from([0xff, 0x00, 0x1b, 0x5b, 0x32, 0x4a]);
    await runAction(false, async () => ({ json: {}, stdoutBytes: payload }), io);
    expect(io.bytes).toEqual([payload]);
    expect(io.text).toEqual([]);
  });

  it('escapes them on a terminal, where control characters would drive it', async () => {
    const io = capture(true);
    await runAction(false, async () => ({ json: {}, stdoutBytes: new TextEncoder().encode('secret\u001b[2J') }), io);
    expect(io.text).toEqual(['secret\\u001b[2J\n']);
    expect(io.bytes).toEqual([]);
  });
});
