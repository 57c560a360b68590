import { randomUUID } from "node:crypto";
import type { ResolvedObjects } from "../postgres/approved-objects.js";
import { visible } from "./visible.js";

type Control = { objects?: () => Promise<ResolvedObjects> };

/**
 * What a statement's names resolve to, as a grant is bound to it (postgres/approved-objects.ts), with what the
 * reviewer must read. When the catalog cannot be read, the digest is one no later statement shares: the
 * approval can release nothing but a statement whose objects regate read, and a re-run asks again.
 */
export async function objectsOf(control: Control): Promise<ResolvedObjects & { note?: string }> {
  if (!control.objects) return { surprises: [] };
  let objects: ResolvedObjects;
  try {
    objects = await control.objects();
  } catch {
    return {
      digest: `unknown ${randomUUID()}`,
      surprises: [],
      note: "regate could not read which tables, views and functions this statement's names resolve to. Approving it cannot run it: it asks again once they can be read.",
    };
  }
  if (objects.surprises.length === 0) return objects;
  // Names are the agent's to choose: marked as the statement's text is, so a look-alike reads as what it is.
  const names = visible(objects.surprises.join("; "));
  const marked = names.notes.length > 0 ? ` Object names: ${names.notes.join(" ")}` : "";
  return {
    ...objects,
    note: `The server resolves this statement's names to objects its text does not show: ${names.text}.${marked} What is approved is these objects as they are now; a re-run on a grant runs only while every object of these names is the same one with the same definition.`,
  };
}
