// responseSchema: checks that what the caller sent is a JSON Schema (a structural check of the keywords it
// uses, then compiling it with Ajv, the validator the MCP SDK ships), tells the agent about it, and
// validates the agent's final output against it. Every failure is INVALID_ARGUMENT with what to fix.
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import type { JsonSchemaType } from "@modelcontextprotocol/sdk/validation/types.js";
import { invalidArgument } from "../errors.js";
import { clip, isObject } from "./events.js";

const TYPES = new Set(["null", "boolean", "object", "array", "number", "string", "integer"]);
const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems"];
const SCHEMAS = [
  "not",
  "additionalProperties",
  "additionalItems",
  "contains",
  "propertyNames",
  "if",
  "then",
  "else",
  "unevaluatedItems",
  "unevaluatedProperties",
];
const NUMBERS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];
const COUNTS = ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"];
const STRINGS = ["$ref", "$id", "$schema", "$comment", "title", "description", "format", "pattern"];
const MAX_DEPTH = 64;

/** Raw output quoted in errors is cut here (the full text stays in the run record). */
const QUOTE_CHARS = 16 * 1024;

export interface ResponseSchema {
  /** The text appended to the prompt so the agent knows what to answer. */
  instruction: string;
  /** Parses and validates the final output: the JSON value, or INVALID_ARGUMENT with the raw output. */
  check(output: string, structured?: unknown): unknown;
}

export function compileResponseSchema(schema: unknown): ResponseSchema {
  const problem = structuralProblem(schema, "responseSchema", 0);
  if (problem) throw invalidArgument(`responseSchema is not a valid JSON Schema: ${problem}`);
  const obj = schema as Record<string, unknown>;
  // Ajv (draft-07 here) refuses unknown meta-schema URIs such as 2020-12's; the keywords are what count.
  const { $schema: _ignored, ...compilable } = obj;
  let validate: ReturnType<AjvJsonSchemaValidator["getValidator"]>;
  try {
    validate = new AjvJsonSchemaValidator().getValidator(compilable as JsonSchemaType);
  } catch (err) {
    throw invalidArgument(`responseSchema is not a valid JSON Schema: ${(err as Error).message}`);
  }
  const text = JSON.stringify(obj);
  return {
    instruction:
      "\n\nWhen you have finished, reply with only a JSON value (no prose around it, no code fence) that " +
      `matches this JSON Schema:\n${text}`,
    check(output, structured) {
      const value = structured !== undefined ? structured : parseOutput(output);
      if (value === NOT_JSON) {
        throw invalidArgument(
          `the agent's final output is not JSON, so it cannot match responseSchema. Raw output:\n${clip(output, QUOTE_CHARS)}`,
        );
      }
      const result = validate(value);
      if (!result.valid) {
        throw invalidArgument(
          `the agent's final output does not match responseSchema (${result.errorMessage}). Raw output:\n${clip(output, QUOTE_CHARS)}`,
        );
      }
      return value;
    },
  };
}

const NOT_JSON = Symbol("not JSON");

/** The output as JSON; models often wrap it in a ```json fence despite being asked not to, so that is unwrapped. */
function parseOutput(output: string): unknown {
  const candidates = [output.trim()];
  const fenced = /```(?:json)?\s*\n([\s\S]*?)\n?```/.exec(output);
  if (fenced?.[1]) candidates.push(fenced[1].trim());
  for (const c of candidates) {
    if (!c) continue;
    try {
      return JSON.parse(c);
    } catch {
      // try the next candidate
    }
  }
  return NOT_JSON;
}

/** Why `s` is not a schema (null when it looks like one). Booleans are schemas (true: anything, false: nothing). */
function structuralProblem(s: unknown, at: string, depth: number): string | null {
  if (depth > MAX_DEPTH) return `${at}: nested deeper than ${MAX_DEPTH} levels`;
  if (typeof s === "boolean") return depth === 0 ? `${at} must be an object` : null;
  if (!isObject(s)) return `${at} must be an object (or a boolean inside a schema), not ${JSON.stringify(s)}`;
  if ("type" in s) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (types.length === 0 || !types.every((t) => typeof t === "string" && TYPES.has(t))) {
      return `${at}.type must be one of ${[...TYPES].join(", ")} (or a list of them), not ${JSON.stringify(s.type)}`;
    }
  }
  return subschemaProblem(s, at, depth) ?? keywordProblem(s, at);
}

/** The first problem in the schemas nested in `s` (properties, anyOf, items, not, ...). */
function subschemaProblem(s: Record<string, unknown>, at: string, depth: number): string | null {
  const sub = (v: unknown, where: string) => structuralProblem(v, where, depth + 1);
  for (const k of SCHEMA_MAPS) {
    if (!(k in s)) continue;
    const map = s[k];
    if (!isObject(map)) return `${at}.${k} must be an object of schemas`;
    for (const [name, v] of Object.entries(map)) {
      const p = sub(v, `${at}.${k}.${name}`);
      if (p) return p;
    }
  }
  for (const k of SCHEMA_LISTS) {
    if (!(k in s)) continue;
    const list = s[k];
    if (!Array.isArray(list) || list.length === 0) return `${at}.${k} must be a non-empty list of schemas`;
    for (const [i, v] of list.entries()) {
      const p = sub(v, `${at}.${k}[${i}]`);
      if (p) return p;
    }
  }
  if ("items" in s) {
    const items = Array.isArray(s.items) ? s.items : [s.items];
    for (const [i, v] of items.entries()) {
      const p = sub(v, `${at}.items${Array.isArray(s.items) ? `[${i}]` : ""}`);
      if (p) return p;
    }
  }
  for (const k of SCHEMAS) {
    if (!(k in s)) continue;
    const p = sub(s[k], `${at}.${k}`);
    if (p) return p;
  }
  return null;
}

/** The first keyword of `s` whose value has the wrong shape (required, enum, numbers, counts, pattern, ...). */
function keywordProblem(s: Record<string, unknown>, at: string): string | null {
  if ("required" in s && !(Array.isArray(s.required) && s.required.every((r) => typeof r === "string"))) {
    return `${at}.required must be a list of property names`;
  }
  if ("enum" in s && !Array.isArray(s.enum)) return `${at}.enum must be a list`;
  for (const k of NUMBERS) {
    if (k in s && typeof s[k] !== "number") return `${at}.${k} must be a number`;
  }
  if (typeof s.multipleOf === "number" && s.multipleOf <= 0) return `${at}.multipleOf must be greater than 0`;
  for (const k of COUNTS) {
    const v = s[k];
    if (k in s && !(typeof v === "number" && Number.isInteger(v) && v >= 0)) {
      return `${at}.${k} must be a non-negative integer`;
    }
  }
  for (const k of STRINGS) {
    if (k in s && typeof s[k] !== "string") return `${at}.${k} must be a string`;
  }
  if ("uniqueItems" in s && typeof s.uniqueItems !== "boolean") return `${at}.uniqueItems must be true or false`;
  if (typeof s.pattern === "string") {
    try {
      new RegExp(s.pattern, "u");
    } catch {
      return `${at}.pattern is not a valid regular expression: ${JSON.stringify(s.pattern)}`;
    }
  }
  return null;
}
