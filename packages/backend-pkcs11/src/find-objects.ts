import type { ITemplate, SessionObject } from 'graphene-pk11';
import type { TokenSession } from './token-session.js';

/**
 * The objects on a token that match a template (C_FindObjects). Private objects are found only
 * once the session is logged in.
 * @example findObjects(token, { label: 'my-key' }).length
 */
export function findObjects(token: TokenSession, template: ITemplate): SessionObject[] {
  const found = token.session.find(template);
  const out: SessionObject[] = [];
  for (let i = 0; i < found.length; i++) out.push(found.items(i));
  return out;
}
