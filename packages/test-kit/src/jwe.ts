/**
 * Sets the p2c of a JWE's protected header (compact or JSON). The header is authenticated, so the
 * result cannot decrypt; a reader that derived a key before checking p2c would spend hours on
 * 2^31 PBKDF2 rounds before finding out.
 */
export function withP2c(text: string, p2c: number): string {
  const rewrite = (prot: string) => {
    const header = JSON.parse(Buffer.from(prot, 'base64url').toString('utf8')) as Record<string, unknown>;
    return Buffer.from(JSON.stringify({ ...header, p2c })).toString('base64url');
  };
  const t = text.trim();
  if (!t.startsWith('{')) {
    const [prot, ...rest] = t.split('.');
    return [rewrite(prot as string), ...rest].join('.');
  }
  const jwe = JSON.parse(t) as Record<string, string>;
  return JSON.stringify({ ...jwe, protected: rewrite(jwe.protected as string) }, null, 2);
}
