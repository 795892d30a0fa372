import { describe, expect, it } from 'vitest';
import { der, elementAt, integer, oid, opensshRoundsOffset, pemBody, replaceAt, seq, toPem } from '../src/der.js';

describe('the DER writer', () => {
  it('writes X.690 lengths, integers and OIDs', () => {
    expect(integer(0n).toString('hex')).toBe('020100');
    expect(integer(128n).toString('hex')).toBe('02020080');
    expect(integer(-129n).toString('hex')).toBe('0202ff7f');
    expect(oid('1.2.840.113549.1.5.13').toString('hex')).toBe('06092a864886f70d01050d');
    expect(der(0x04, Buffer.alloc(200)).subarray(0, 3).toString('hex')).toBe('0481c8');
  });
});

describe('patching one element of real DER', () => {
  const file = seq(seq(oid('1.2.3'), integer(1000n)), der(0x04, Buffer.alloc(130, 1)));

  it('finds an element by its path of child indexes, and says when there is none', () => {
    expect(elementAt(file, 0, 1)).toEqual(integer(1000n));
    expect(() => elementAt(file, 0, 2)).toThrow(/no child 2/);
  });

  it('replaces it and rewrites every enclosing length', () => {
    const big = integer(2n ** 1000n);
    const patched = replaceAt(file, [0, 1], big);
    expect(patched).toEqual(seq(seq(oid('1.2.3'), big), der(0x04, Buffer.alloc(130, 1))));
    expect(elementAt(patched, 1)).toEqual(der(0x04, Buffer.alloc(130, 1)));
  });

  it('goes through PEM both ways', () => {
    const text = toPem('ENCRYPTED PRIVATE KEY', file, 64);
    expect(text.split('\n')[1]).toHaveLength(64);
    expect(pemBody(text)).toEqual(file);
  });

  it('finds the bcrypt rounds of an OpenSSH key blob', () => {
    const string = (bytes: Buffer) => Buffer.concat([Buffer.alloc(4), bytes]).fill(bytes.length, 3, 4);
    const kdfoptions = Buffer.concat([string(Buffer.alloc(16, 9)), Buffer.from([0, 0, 0, 16])]);
    const names = [string(Buffer.from('aes256-ctr')), string(Buffer.from('bcrypt'))];
    const blob = Buffer.concat([Buffer.from('openssh-key-v1\0'), ...names, string(kdfoptions)]);
    expect(blob.readUInt32BE(opensshRoundsOffset(blob))).toBe(16);
  });
});
