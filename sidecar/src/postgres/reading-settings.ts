// Settings that change what a statement's text means to the server without changing the text: DateStyle's
// field order reads '12/01/2025' as 1 December or 12 January, TimeZone places a timestamp without an offset
// (and `now()::date`), IntervalStyle sql_standard carries a leading minus to every field of an interval. A
// reviewer reads a held statement under the server's own settings: when the agent's connection chose others
// (a startup parameter, SET, set_config), the approval says so and its digest covers them (approval/).
// PostgreSQL reports each of them (ParameterStatus) at startup and whenever it changes.

/** The reported names, as the server spells them in ParameterStatus. */
export const READING_SETTINGS = ["DateStyle", "IntervalStyle", "TimeZone"] as const;

/** A setting the agent's connection chose: its value now, and the server's own when regate knows it. */
export interface ChosenSetting {
  name: string;
  value: string;
  /** Undefined when the agent set it at startup: the server's value was never seen. */
  server?: string;
}

/** The session's reading settings: the server's values (where the agent did not choose at startup) and the current ones. */
export class ReadingSettings {
  readonly #server = new Map<string, string>();
  readonly #now = new Map<string, string>();

  /**
   * `reported`: the ParameterStatus values of the session's startup; `chosenAtStart`: the names whose value
   * came from the agent's startup packet (pg_settings.source 'client'), whose server value is unknown.
   */
  constructor(reported: ReadonlyMap<string, string>, chosenAtStart: ReadonlySet<string>) {
    for (const name of READING_SETTINGS) {
      const v = reported.get(name);
      if (v === undefined) continue;
      this.#now.set(name, v);
      if (!chosenAtStart.has(name)) this.#server.set(name, v);
    }
  }

  /** A ParameterStatus the server sent: kept when it is one of these. */
  reported(name: string, value: string): void {
    if ((READING_SETTINGS as readonly string[]).includes(name)) this.#now.set(name, value);
  }

  /** The settings whose value now is not the server's own, in a fixed order (a digest covers them). */
  chosen(): ChosenSetting[] {
    const out: ChosenSetting[] = [];
    for (const name of READING_SETTINGS) {
      const value = this.#now.get(name);
      if (value === undefined) continue;
      const server = this.#server.get(name);
      if (value !== server) out.push({ name, value, ...(server !== undefined ? { server } : {}) });
    }
    return out;
  }
}

/** No setting known: a session before its upstream answered, or a test. */
export const NO_READING_SETTINGS = new ReadingSettings(new Map(), new Set());

/** The SQL that names, of READING_SETTINGS, those the startup packet set (comma-separated; null when none). */
export const CHOSEN_AT_START_SQL = `(SELECT string_agg(name, ',') FROM pg_catalog.pg_settings WHERE name IN (${READING_SETTINGS.map((n) => `'${n}'`).join(", ")}) AND source = 'client')`;
