/** What a command prints on stdout, and its exit code. */
export interface Output {
  stdout: string;
  code: number;
}

export const SUCCESS: Output = { stdout: '', code: 0 };
