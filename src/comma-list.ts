// Comma-separated setting values ("a, b,,c" -> ["a", "b", "c"]), as every list setting reads them.
export const splitCommas = (s: string): string[] =>
  s
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
