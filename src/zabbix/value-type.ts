/**
 * Zabbix item value types, in a file of their own: the gate spec and the window arithmetic need them,
 * and importing them from client.ts would load the HTTP client (undici) into every process that only
 * parses options (the CLI's `--help`, refused input).
 */

/** Zabbix item value types (item.value_type / history.get `history`). */
export const ValueType = {
  Float: 0,
  Character: 1,
  Log: 2,
  Unsigned: 3,
  Text: 4,
} as const;
export type ValueType = (typeof ValueType)[keyof typeof ValueType];
