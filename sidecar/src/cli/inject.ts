export async function injectCommand(_argv: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  process.stderr.write("regate inject: not implemented yet\n");
  return 1;
}
