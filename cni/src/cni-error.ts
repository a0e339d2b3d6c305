/** CNI spec error codes used here (CNI 1.1.0, "Error"); 999 is what Go's skel answers for anything else. */
export const CNI_ERR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  internal: 999,
} as const;

/** An error the plugin reports as CNI error JSON on stdout: `{"cniVersion","code","msg","details"}`. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
  }

  toJSON(cniVersion: string): object {
    return { cniVersion, code: this.code, msg: this.message, details: this.details };
  }
}

/** Writes a log line on stderr, which runtimes keep (stdout carries only the result or the error). */
export function logWarning(text: string): void {
  process.stderr.write(`flannel: ${text}\n`);
}
