/**
 * What a YAML parse error says, without the excerpt of the source yaml appends to its message: the first line
 * already names the line and column, and the excerpt can quote a secret (a config's inline `value:`, a
 * manifest's env or Secret data) into a log or a terminal.
 */
export function yamlProblem(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/:$/, "");
}
