// Go's database/sql with github.com/lib/pq through regate with the example policy. lib/pq speaks the protocol
// its own way: a query with arguments is Parse + Describe statement + Sync, then Bind + Execute + Sync with no
// Describe of the portal, so it decodes rows by the statement's Describe; with binary_parameters=yes it sends
// Parse + Bind + Describe portal + Execute in one go, []byte arguments in binary; a query without arguments is
// a simple Query. Its COPY is pq.CopyIn, its errors *pq.Error, LISTEN through pq.Listener. The program is
// sidecar/test/clients/go/pq (built by scripts/clients-setup.sh into go/pqclient); it prints what the driver
// got, and this file judges that and what the database holds.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, REVIEWER, startApprovingRegate, until } from "../approval/support.js";
import { clientGate, formatRun, PQ_BINARY, REPO_ROOT, runClient, stepOf, type ClientStep } from "../clients/run.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import type { TestRegate } from "../support/regate.js";

const pq = clientGate("pq");
let db: TestPostgres;
let regate: TestRegate;

interface Customer {
  id: number;
  full_name: string;
  email: string;
  ssn: string | null;
  phone: string | null;
}

beforeAll(async () => {
  db = await startPostgres();
  // The example policy, with approvals on: writes to public.payments are held for a reviewer.
  regate = await startApprovingRegate(db);
}, 120_000);

afterAll(async () => {
  await regate?.stop();
  await db?.stop();
});

const customers = async (): Promise<Customer[]> => db.query("SELECT id, full_name, email, ssn, phone FROM public.customers WHERE id <= 3 ORDER BY id");
/** What the example policy's masks make of a customer: email partial (the domain stays), ssn and phone redacted. */
const masked = (c: Customer) => [c.id, c.full_name, c.email.replace(/^[^@]*/, "***"), c.ssn === null ? null : "****", c.phone === null ? null : "****"];

describe("lib/pq through regate", () => {
  it.skipIf(pq.skip)(pq.title("masks with and without arguments (text and binary parameters), refuses with *pq.Error 42501 and goes on, writes only with WHERE, pq.CopyIn, pq.Listener"), { timeout: 180_000 }, async () => {
    pq.require();
    const rows = await customers();
    const [c1, c2, c3] = rows as [Customer, Customer, Customer];
    const ordersBefore: { id: number; status: string }[] = await db.query("SELECT id, status FROM public.orders ORDER BY id");
    const run = await runClient("pq", regate.url());
    expect(run.ok, formatRun(run)).toBe(true);
    const step = (name: string): ClientStep => {
      const s = stepOf(run, name);
      expect(s, `step ${name} missing\n${formatRun(run)}`).toBeDefined();
      return s!;
    };
    for (const mode of ["", "_bin"]) {
      // Masked columns masked, unmasked ones exact: simple Query, extended with arguments, an expression of a
      // masked column (its type changes to text for the mask, which lib/pq reads from the statement's Describe).
      expect(step(`masked_no_args${mode}`).rows).toEqual([masked(c1), masked(c2)]);
      expect(step(`masked_args${mode}`).rows).toEqual([masked(c2)]);
      expect(step(`masked_expr_args${mode}`).rows).toEqual([[2, "****", "****"]]);
      expect(step(`masked_bytea_args${mode}`).rows).toEqual([[2, "****"]]);
      expect(step(`masked_where_masked${mode}`).rows).toEqual([[3, masked(c3)[2]]]);
      // Refusals reach database/sql as *pq.Error with Code 42501, and the same connection goes on.
      for (const refused of ["refused_no_args", "refused_args", "notify_masked", "update_no_where", "delete_no_where"]) {
        expect(step(`${refused}${mode}`), refused).toMatchObject({ ok: true, sqlstate: "42501" });
        expect(step(`${refused}${mode}`).error).toMatch(/^pq: regate refused this statement: /);
      }
      expect(step(`update_no_where${mode}`).error).toMatch(/UPDATE without WHERE is not allowed/);
      expect(step(`delete_no_where${mode}`).error).toMatch(/DELETE without WHERE is not allowed/);
      expect(step(`after_refused${mode}`).rows).toEqual([[42]]);
      expect(step(`after_refused_args${mode}`).rows).toEqual([[1]]);
      expect(step(`update_where${mode}`).affected).toBe(1);
      expect(step(`update_where_no_args${mode}`).affected).toBe(1);
      expect(step(`copy_in${mode}`).affected).toBe(2);
      expect(step(`after_copy${mode}`).rows).toEqual([[2]]);
      // A named statement (db.Prepare) run twice by Bind alone.
      expect(step(`prepared_1${mode}`).rows).toEqual([masked(c2)]);
      expect(step(`prepared_2${mode}`).rows).toEqual([masked(c3)]);
      // Inside a transaction a refusal fails it until ROLLBACK.
      expect(step(`tx_select${mode}`).rows).toEqual([[3]]);
      expect(step(`tx_refused${mode}`)).toMatchObject({ ok: true, sqlstate: "42501" });
      expect(step(`tx_aborted${mode}`)).toMatchObject({ ok: true, sqlstate: "25P02" });
      expect(step(`tx_rollback${mode}`)).toMatchObject({ ok: true });
      expect(step(`copy_in_masked${mode}`)).toMatchObject({ ok: true, sqlstate: "42501" });
      expect(step(`copy_in_masked${mode}`).error).toMatch(/COPY of tables with masked columns is not allowed/);
    }
    // binary_parameters=yes: a []byte argument sent in binary (int4 2).
    expect(step("masked_binary_arg_bin").rows).toEqual([masked(c2)]);
    expect(step("listen_notify").rows).toEqual([["regate_pq", "hello"]]);
    // No masked value reached the agent in any form.
    for (const c of rows) {
      for (const secret of [c.ssn, c.phone, c.email, c.email.split("@")[0]!, c.email.toUpperCase()]) if (secret) expect(run.stdout).not.toContain(secret);
    }

    expect(await db.query("SELECT count(*)::int AS n FROM public.customers WHERE full_name = 'Copy Person'")).toEqual([{ n: 0 }]);
    // Judged by the database: only the WHERE writes changed orders, and pq.CopyIn added its four rows.
    const ordersAfter: { id: number; status: string }[] = await db.query("SELECT id, status FROM public.orders WHERE id < 9000 ORDER BY id");
    expect(ordersAfter).toEqual(ordersBefore.map((o) => (o.id === 1 ? { id: 1, status: "shipped" } : o.id === 2 ? { id: 2, status: "paid" } : o)));
    expect(await db.query("SELECT id, customer_id, amount::text, status FROM public.orders WHERE id >= 9000 ORDER BY id")).toEqual(
      [9101, 9102, 9201, 9202].map((id) => ({ id, customer_id: 1, amount: "12.50", status: "pending" })),
    );
  });

  const amount = async (id: number) => Number((await db.query("SELECT amount FROM public.payments WHERE id = $1", [id]))[0].amount);
  interface PqRun {
    code: number | null;
    steps: ClientStep[];
    stderr: string;
  }
  /** Starts the approval program; `cancel()` writes the line on which approval-cancel cancels its context. */
  const startApproval = (scenario: "approval" | "approval-cancel", id: number, binary: boolean) => {
    const url = binary ? `${regate.url()}&binary_parameters=yes` : regate.url();
    const child = spawn(PQ_BINARY, [url, scenario, String(id)], { cwd: REPO_ROOT });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const done = new Promise<PqRun>((resolve) =>
      child.on("close", (code) => resolve({ code, stderr: err, steps: out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as ClientStep) })),
    );
    return { done, cancel: () => child.stdin.write("cancel\n") };
  };
  const runApproval = (id: number, binary: boolean) => startApproval("approval", id, binary).done;
  const seen = new Set<string>();
  const heldFor = () =>
    until(async () => {
      const pending = (await api(regate, "/approvals?status=pending")).body.approvals as any[];
      // The value is withheld from reviewers (payments has a masked column): the tests run one at a time, and
      // one left pending by an earlier failure is not taken for this one's.
      const found = pending.find((a) => a.statement.sql === "UPDATE payments SET amount = amount + 1 WHERE id = $1" && !seen.has(a.id));
      if (found) seen.add(found.id);
      return found;
    });

  // lib/pq's two paths for a statement with arguments: Parse/Describe/Sync then Bind/Execute/Sync, and (binary
  // parameters) Parse/Bind/Describe portal/Execute/Sync at once; either way it is held once, with the Bind's argument.
  describe.each([
    ["text parameters", false, 31, 32],
    ["binary_parameters=yes", true, 33, 34],
  ] as const)("%s", (_mode, binary, approvedId, refusedId) => {
    it.skipIf(pq.skip)(pq.title("an UPDATE of payments with an argument is held, runs once after an approve, and the session goes on"), { timeout: 120_000 }, async () => {
      pq.require();
      const before = await amount(approvedId);
      const done = runApproval(approvedId, binary);
      const held = await heldFor();
      // Decided with lib/pq's Bind: after the statement's Describe gave its type (int4); or, in binary mode, as the
      // Parse that arrived with its Bind (no type, no Describe first).
      expect(held.statement).toMatchObject({ message: binary ? "parse" : "bind", parameters: [{ format: "text", type_oid: binary ? 0 : 23 }] });
      // Nothing ran while held.
      expect(await amount(approvedId)).toBe(before);
      const ok = await api(regate, `/approvals/${held.id}/approve`, { sha256: held.sha256, comment: "fine" });
      expect(ok.status).toBe(200);
      const r = await done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.steps.map(({ step, ok, affected, rows }) => ({ step, ok, affected, rows }))).toEqual([
        { step: "held", ok: true, affected: 1, rows: undefined },
        { step: "after_held", ok: true, affected: undefined, rows: [[42]] },
      ]);
      expect(await amount(approvedId)).toBe(before + 1);
      // Asked once for the one execution.
      const asked = ((await api(regate, "/approvals")).body.approvals as any[]).filter((a) => a.statement.sql.startsWith("UPDATE payments") && !seen.has(a.id));
      expect(asked).toEqual([]);
    });

    it.skipIf(pq.skip)(pq.title("refused by the reviewer: *pq.Error 42501 naming the approval, nothing ran, the session goes on"), { timeout: 120_000 }, async () => {
      pq.require();
      const before = await amount(refusedId);
      const done = runApproval(refusedId, binary);
      const held = await heldFor();
      expect((await api(regate, `/approvals/${held.id}/refuse`, { comment: "not this one" })).status).toBe(200);
      const r = await done;
      expect(r.code, r.stderr).toBe(1);
      expect(r.steps[0]).toMatchObject({ step: "held", ok: false, sqlstate: "42501" });
      expect(r.steps[0]!.error).toContain(`approval ${held.id} refused by ${REVIEWER.name}`);
      expect(r.steps[1]).toMatchObject({ step: "after_held", ok: true, rows: [[42]] });
      expect(await amount(refusedId)).toBe(before);
    });

    it.skipIf(pq.skip)(pq.title("cancelled by lib/pq (context cancel: a CancelRequest) while held: 57014, withdrawn, nothing ran; a new connection goes on (lib/pq drops a cancelled one)"), { timeout: 120_000 }, async () => {
      pq.require();
      const id = refusedId + 10;
      const before = await amount(id);
      const run = startApproval("approval-cancel", id, binary);
      const held = await heldFor();
      run.cancel();
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.steps[0]).toMatchObject({ step: "held_cancelled", ok: true, sqlstate: "57014" });
      expect(r.steps[0]!.error).toContain(`approval ${held.id} withdrawn; the statement was not run`);
      expect(r.steps[1]).toMatchObject({ step: "after_cancel", ok: true, rows: [[42]] });
      expect((await api(regate, `/approvals/${held.id}`)).body.status).toBe("withdrawn");
      expect(await amount(id)).toBe(before);
    });
  });
});
