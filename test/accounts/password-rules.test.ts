import { describe, expect, it } from 'vitest';
import { passwordProblems } from '../../src/accounts/schema.js';

describe('SESS-10 password rules', () => {
  it('accepts a long password unrelated to the username', () => {
    expect(passwordProblems('correct horse battery staple', 'alice')).toEqual([]);
  });

  it.each([
    ['short', 'at least 12'],
    ['alice-is-my-password', 'username'],
    ['ALICE1234567', 'username'],
    ['aaaaaaaaaaaaaaa', 'repeated'],
    ['Password1234', 'commonly used'],
  ])('rejects %s', (password, reason) => {
    expect(passwordProblems(password, 'alice').join(' ')).toContain(reason);
  });
});
