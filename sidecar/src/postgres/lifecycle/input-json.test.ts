import { beforeAll, describe, expect, it } from "vitest";
import type { SessionInput } from "../../decision/index.js";
import { analyze, initSqlParser } from "../sql/index.js";
import type { AnalysisContext } from "../sql/types.js";
import { postgresInput } from "../to-input.js";
import { postgresInputJson } from "./input-json.js";

const ctx: AnalysisContext = { searchPath: ["$user", "public"], user: "agent", prepared: new Map(), cursors: new Map() };
const session: SessionInput = {
  id: "s-1",
  principal: { subject: "agent \"quoted\" \u2028", groups: ["a"], claims: { n: 1.5, deep: { x: [null, true] } }, auth_method: "token" },
  client: { address: "127.0.0.1", port: 5 },
  target: "db",
  started_at: "2026-11-30T00:00:00.000Z",
};

beforeAll(initSqlParser);

describe("postgresInputJson", () => {
  it("equals JSON.stringify(input) for every shape postgresInput builds, also when its parts are served again", () => {
    const analyses = [
      analyze("SELECT abalance FROM pgbench_accounts WHERE aid = $1", ctx),
      analyze("SELECT 1; UPDATE t SET a = 'x\\n' WHERE b = $1", ctx),
      analyze("SELEC nonsense", ctx),
      undefined,
    ];
    const extras: Record<string, unknown>[] = [{}, { parameters: ["1", null, "é\u0000"], portal: "", statement: "S_1" }, { parameters: undefined, copy: { rows: 2 } }];
    let n = 0;
    for (let round = 0; round < 2; round++) {
      for (const analysis of analyses) {
        for (const extra of extras) {
          for (const budget of [undefined, { rows: { limit: 10, used: 2 } }]) {
            const input = postgresInput(session, {
              message: "bind",
              searchPath: n % 2 ? null : ["$user", "public"],
              txStatus: [0x49, 0x54, 0x45][n % 3]!,
              extra,
              nowMs: 1_796_018_281_157 + (n % 2),
              ...(analysis ? { analysis } : {}),
              ...(budget ? { budget } : {}),
            });
            expect(postgresInputJson(input, analysis)).toBe(JSON.stringify(input));
            n++;
          }
        }
      }
    }
  });
});
