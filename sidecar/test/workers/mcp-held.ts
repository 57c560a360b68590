// The CRM MCP server (test/http/mcp-exchange.ts has the red team's) with tools that answer when the test lets
// them, so a test orders what the server does by events rather than by how long a tool sleeps; and reading a
// response until what the test waits for has arrived, rather than for a time.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { CUSTOMER } from "../http/fixtures.js";

/** Open lets every call through at once; held, calls wait until it opens again. */
export class Gate {
  #opened: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;

  hold(): void {
    this.#opened = new Promise((resolve) => (this.#open = resolve));
  }

  open(): void {
    this.#open();
    this.#opened = Promise.resolve();
  }

  passed(): Promise<void> {
    return this.#opened;
  }
}

export const gates = { get_customer: new Gate(), run_report: new Gate() };

/**
 * `get_customer` (a record whose fields the policy masks) and `run_report` (nothing to mask), each answering once
 * its gate is open. Each call's tool name is pushed on `ran` as it starts.
 */
export function heldCrmServer(ran: string[]): McpServer {
  const server = new McpServer({ name: "crm-mcp", version: "1.0.0" });
  server.registerTool("get_customer", { inputSchema: { id: z.number() } }, async () => {
    ran.push("get_customer");
    await gates.get_customer.passed();
    return { content: [{ type: "text", text: JSON.stringify(CUSTOMER) }] };
  });
  server.registerTool("run_report", {}, async () => {
    ran.push("run_report");
    await gates.run_report.passed();
    return { content: [{ type: "text", text: "report ready" }] };
  });
  return server;
}

/** What the agent reads of a response until it ends or `enough(text)` holds (then the rest is cancelled). */
export async function readUntil(res: { body: ReadableStream<Uint8Array> | null }, enough: (text: string) => boolean = () => false): Promise<string> {
  const reader = res.body!.getReader();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += Buffer.from(value).toString("utf8");
      if (enough(text)) return text;
    }
  } catch {
    return text; // the connection closed under the stream
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
