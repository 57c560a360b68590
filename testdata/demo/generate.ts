// Deterministic fake data for testdata/demo/schema.sql.
//
//   npx tsx testdata/demo/generate.ts > testdata/demo/seed.sql
//
// The same seed always gives the same bytes: a seeded PRNG, fixed timestamps, no Math.random, no now().
// Every value is invented: card numbers pass Luhn but use no real issuer ranges beyond the leading digit,
// SSNs avoid the never-issued areas (000, 666, 9xx), phones sit in the fictional 555 exchange and emails
// in the reserved example.* domains.

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const DEMO_COUNTS = {
  customers: 2000,
  orders: 5000,
  payments: 4000,
  api_keys: 20,
} as const;

const SEED = 0x5eed_2024;
const ROWS_PER_INSERT = 500;
/** 2024-01-01T00:00:00Z: every timestamp is this plus a generated offset. */
const EPOCH_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;

const FIRST_NAMES = [
  "Ada", "Aiko", "Alejandro", "Amara", "Anders", "Anika", "Arjun", "Astrid", "Beatriz", "Bongani",
  "Camille", "Chen", "Chiara", "Dmitri", "Elif", "Emeka", "Esther", "Farah", "Felix", "Freya",
  "Gustavo", "Hana", "Hamid", "Ingrid", "Isabel", "Jamal", "Jonas", "Kaito", "Keanu", "Lars",
  "Leila", "Lucia", "Malik", "Mateo", "Mei", "Mira", "Nadia", "Nikolai", "Noah", "Oksana",
  "Omar", "Paloma", "Priya", "Quentin", "Rafael", "Rosa", "Sana", "Santiago", "Sofia", "Tariq",
  "Thandiwe", "Tomas", "Uma", "Valentina", "Viktor", "Wanjiru", "Xavier", "Yara", "Yusuf", "Zofia",
] as const;

const LAST_NAMES = [
  "Abara", "Bergstrom", "Castellano", "Dubois", "Eriksen", "Fontaine", "Gallagher", "Haddad", "Ivanova",
  "Jablonski", "Kowalczyk", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rahman",
  "Sandoval", "Takahashi", "Ueda", "Varga", "Whitfield", "Xiong", "Yilmaz", "Zielinski", "Achterberg",
  "Brennan", "Cardoso", "Delacroix", "Engel", "Ferreira", "Grünwald", "Holm", "Iyer", "Jovanovic",
  "Kaur", "Lombardi", "Mwangi", "Novak", "O'Connell", "Pereira", "Rossi", "Silva", "Tanaka", "Umarov",
  "Vasquez", "Weber", "Yamamoto", "Zhou",
] as const;

const EMAIL_DOMAINS = ["example.com", "example.net", "example.org"] as const;
const API_KEY_OWNERS = [
  "billing-service", "reporting-etl", "support-console", "fraud-scoring", "mobile-backend",
  "partner-gateway", "analytics-batch", "search-indexer", "notifications", "data-warehouse",
] as const;

/** mulberry32: a tiny 32-bit PRNG, good enough for fake data and fully reproducible. */
class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  digits(count: number): string {
    let out = "";
    for (let i = 0; i < count; i++) out += String(this.int(0, 9));
    return out;
  }

  hex(count: number): string {
    let out = "";
    for (let i = 0; i < count; i++) out += this.int(0, 15).toString(16);
    return out;
  }
}

/** The digit that makes `partial` + digit pass the Luhn check. */
export function luhnCheckDigit(partial: string): number {
  let sum = 0;
  // Walking from the right, the check digit will sit at position 0, so partial's last digit is doubled.
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export function luhnValid(number: string): boolean {
  return /^\d{2,}$/.test(number) && luhnCheckDigit(number.slice(0, -1)) === Number(number.at(-1));
}

function cardNumber(rng: Rng): string {
  // Visa-like (4...) or Mastercard-like (51-55...) prefixes, 16 digits in all.
  const prefix = rng.next() < 0.6 ? "4" : `5${rng.int(1, 5)}`;
  const partial = prefix + rng.digits(15 - prefix.length);
  return partial + String(luhnCheckDigit(partial));
}

function ssn(rng: Rng): string {
  let area = rng.int(1, 899);
  if (area === 666) area = 667;
  const group = rng.int(1, 99);
  const serial = rng.int(1, 9999);
  return `${String(area).padStart(3, "0")}-${String(group).padStart(2, "0")}-${String(serial).padStart(4, "0")}`;
}

function phone(rng: Rng): string {
  return `+1-555-${rng.int(200, 999)}-${rng.digits(4)}`;
}

function timestamp(ms: number): string {
  // 2024-03-05 12:34:56+00 — what PostgreSQL itself prints for timestamptz in UTC.
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}+00`;
}

function money(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function emailLocalPart(name: string): string {
  return name
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z]/g, "");
}

interface Customer {
  id: number;
  card: string;
  createdMs: number;
}

interface Order {
  id: number;
  customer: Customer;
  cents: number;
  status: string;
  createdMs: number;
}

function insert(table: string, columns: readonly string[], rows: string[][]): string[] {
  const statements: string[] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    const chunk = rows.slice(start, start + ROWS_PER_INSERT);
    const values = chunk.map((row) => `(${row.join(", ")})`).join(",\n");
    statements.push(`INSERT INTO ${table} (${columns.join(", ")}) VALUES\n${values};`);
  }
  return statements;
}

export function generateSeedSql(): string {
  const rng = new Rng(SEED);
  const out: string[] = [
    "-- Generated by testdata/demo/generate.ts; do not edit by hand.",
    "-- Regenerate: npx tsx testdata/demo/generate.ts > testdata/demo/seed.sql",
    `-- Rows: ${Object.entries(DEMO_COUNTS).map(([t, n]) => `${t}=${n}`).join(", ")}`,
    "BEGIN;",
  ];

  const customers: Customer[] = [];
  const customerRows: string[][] = [];
  for (let id = 1; id <= DEMO_COUNTS.customers; id++) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const email = `${emailLocalPart(first)}.${emailLocalPart(last)}${id}@${rng.pick(EMAIL_DOMAINS)}`;
    const card = cardNumber(rng);
    // Customers sign up over 2024; orders follow within the next year.
    const createdMs = EPOCH_MS + rng.int(0, 365 * DAY_MS / 1000 - 1) * 1000;
    // A few customers never gave a phone or an SSN: keep NULLs in the data set.
    const phoneValue = rng.next() < 0.05 ? "NULL" : sqlString(phone(rng));
    const ssnValue = rng.next() < 0.03 ? "NULL" : sqlString(ssn(rng));
    customers.push({ id, card, createdMs });
    customerRows.push([
      String(id), sqlString(`${first} ${last}`), sqlString(email), phoneValue, ssnValue, sqlString(card),
      sqlString(timestamp(createdMs)),
    ]);
  }
  out.push(...insert("public.customers", ["id", "full_name", "email", "phone", "ssn", "card_number", "created_at"], customerRows));

  const statuses = ["pending", "paid", "paid", "shipped", "shipped", "shipped", "cancelled", "refunded"] as const;
  const orders: Order[] = [];
  const orderRows: string[][] = [];
  for (let id = 1; id <= DEMO_COUNTS.orders; id++) {
    const customer = rng.pick(customers);
    const cents = rng.int(500, 250_000);
    const status = rng.pick(statuses);
    const createdMs = customer.createdMs + rng.int(60, 365 * DAY_MS / 1000) * 1000;
    orders.push({ id, customer, cents, status, createdMs });
    orderRows.push([String(id), String(customer.id), money(cents), sqlString(status), sqlString(timestamp(createdMs))]);
  }
  out.push(...insert("public.orders", ["id", "customer_id", "amount", "status", "created_at"], orderRows));

  // Payments for a deterministic subset of orders (Fisher-Yates with the same PRNG), in order id order.
  const shuffled = [...orders];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const a = shuffled[i];
    const b = shuffled[j];
    if (a === undefined || b === undefined) throw new Error("shuffle out of range");
    shuffled[i] = b;
    shuffled[j] = a;
  }
  const paid = shuffled.slice(0, DEMO_COUNTS.payments).sort((a, b) => a.id - b.id);
  const paymentRows: string[][] = paid.map((order, index) => {
    const status =
      order.status === "refunded" ? "refunded"
      : order.status === "pending" ? "authorized"
      : order.status === "cancelled" ? "failed"
      : "captured";
    // Most payments use the card on file; some use another card.
    const card = rng.next() < 0.85 ? order.customer.card : cardNumber(rng);
    return [String(index + 1), String(order.id), money(order.cents), sqlString(card), sqlString(status)];
  });
  out.push(...insert("public.payments", ["id", "order_id", "amount", "card_number", "status"], paymentRows));

  const keyRows: string[][] = [];
  for (let id = 1; id <= DEMO_COUNTS.api_keys; id++) {
    keyRows.push([String(id), sqlString(rng.pick(API_KEY_OWNERS)), sqlString(`rk_live_${rng.hex(32)}`)]);
  }
  out.push(...insert("internal.api_keys", ["id", "owner", "secret"], keyRows));

  // Explicit ids do not move identity sequences: move them so later INSERTs without an id work.
  const tables = { customers: "public.customers", orders: "public.orders", payments: "public.payments", api_keys: "internal.api_keys" } as const;
  for (const [key, table] of Object.entries(tables) as [keyof typeof tables, string][]) {
    out.push(`ALTER TABLE ${table} ALTER COLUMN id RESTART WITH ${DEMO_COUNTS[key] + 1};`);
  }
  out.push("COMMIT;", "");
  return out.join("\n");
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) process.stdout.write(generateSeedSql());
