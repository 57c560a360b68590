// A reviewer approves what will run, but reads it masked: a card number in a held statement's parameters or
// text is not shown in clear by the API, while the approved statement writes the real value.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";
import { api, approvalBundle, client, heldId, startApprovingRegate, until } from "./support.js";

let db: TestPostgres;
let regate: TestRegate;
const CARD = "5500005555555559";

beforeAll(async () => {
  db = await startPostgres();
  regate = await startApprovingRegate(db, {}, approvalBundle({ reason: "payments need a human", approvers: "dba-oncall", timeout_seconds: 60 }, "masked-view"));
}, 120_000);
afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

describe("the reviewer's view of a held statement", () => {
  it("masks the card number in parameters and text; the approved statement writes the real one", async () => {
    const { c, notices } = await client(regate);
    try {
      const held = c.query(`UPDATE payments SET card_number = $1 WHERE id = $2 AND card_number <> '4111 1111 1111 1111'`, [CARD, 3]);
      const id = await until(() => heldId(notices));
      const shown = await api(regate, `/approvals/${id}`);
      const text = JSON.stringify(shown.body);
      expect(text).not.toContain(CARD);
      expect(text).not.toContain("4111 1111 1111 1111");
      expect(shown.body.statement.parameters[0].value).toMatch(/5559$/);
      expect(shown.body.statement.parameters[1].value).toBe("3");
      expect((await api(regate, `/approvals/${id}/approve`, { sha256: shown.body.sha256 })).status).toBe(200);
      expect((await held).rowCount).toBe(1);
      expect((await db.query("SELECT card_number FROM payments WHERE id = 3"))[0].card_number).toBe(CARD);
      // What the agent reads about its own approval is the same masked view.
      const own = await c.query("SELECT * FROM regate.approvals");
      expect(JSON.stringify(own.rows)).not.toContain(CARD);
    } finally {
      await c.end();
    }
  });
});
