/**
 * An error caused by input a person can fix (a flag, net-conf.json, subnet.env, a peer's lease).
 * The CLI prints `message` without a stack trace; `field` names what was wrong and `hint` how to fix it.
 */
export class UserError extends Error {
  override readonly name = 'UserError';

  constructor(
    readonly field: string,
    readonly problem: string,
    readonly hint?: string,
  ) {
    super(hint ? `${field}: ${problem}; ${hint}` : `${field}: ${problem}`);
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}
