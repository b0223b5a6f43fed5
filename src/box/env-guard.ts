// The one check on environment variables a client hands to a box (box_create env, box_exec env), and the
// list of shell-startup names the server strips from its own wrappers (boxd-run, boxd-kill, file and git
// scripts). Linux env names are case-sensitive and so are the programs reading these, so names match
// exactly; PATH and HOME are refused in any case, as they always were.
import { invalidArgument } from "../errors.js";

/**
 * Names bash reads at startup or that change how it runs a script: a box env holding one would run code in,
 * trace or reshape boxd's own bash wrappers before the user's command starts.
 */
export const SHELL_STARTUP_ENV = [
  "BASH_ENV",
  "ENV",
  "SHELLOPTS",
  "BASHOPTS",
  "PS4",
  "PROMPT_COMMAND",
  "CDPATH",
  "GLOBIGNORE",
  "EXECIGNORE",
  "IFS",
  "TMOUT",
  "POSIXLY_CORRECT",
  "INPUTRC",
] as const;

/** Why each refused name is refused; the reason goes into the error. */
const REFUSED: Record<string, string> = {
  ...Object.fromEntries(SHELL_STARTUP_ENV.map((n) => [n, "it changes how bash starts or runs boxd's own scripts"])),
  NODE_OPTIONS: "it injects options and code into every node process",
  PYTHONSTARTUP: "python runs it at startup",
  PYTHONHOME: "it replaces python's standard library",
  PYTHONINSPECT: "it turns python scripts interactive",
  PERL5OPT: "it injects options and code into every perl process",
  RUBYOPT: "it injects options and code into every ruby process",
  JAVA_TOOL_OPTIONS: "it injects agents into every JVM",
  _JAVA_OPTIONS: "it injects agents into every JVM",
  JDK_JAVA_OPTIONS: "it injects agents into every JVM",
  GCONV_PATH: "glibc loads code from it",
  GLIBC_TUNABLES: "it reconfigures glibc in every process",
  MALLOC_TRACE: "glibc writes to the file it names",
  HOSTALIASES: "it changes name resolution",
  RESOLV_HOST_CONF: "it changes name resolution",
  NLSPATH: "it changes where programs load message catalogs from",
};

/** Refused whatever their case (the box's user, its search path). */
const REFUSED_ANY_CASE: Record<string, string> = {
  PATH: "the box's command search path is fixed (install tools under the home, which is on it)",
  HOME: "the box user's home is fixed (/workspace/home)",
};

/** Whole families, by prefix (case-sensitive, as the programs read them). */
const REFUSED_PREFIXES: [string, string][] = [
  ["BOXD_", "the BOXD_ prefix is reserved for the server"],
  ["LD_", "the dynamic loader reads LD_* (preload, audit, library path)"],
  ["BASH_", "bash reads BASH_* (startup file, xtrace fd, exported functions)"],
  ["GIT_", "GIT_* changes what git does, including boxd's own git commands (only author/committer names are allowed)"],
];

/** GIT_* names that only label commits: allowed. */
const GIT_IDENTITY = new Set(["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"]);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_ENV_VARS = 200;

/** Why `name` is refused, or null when it is allowed. */
export function refusedEnvReason(name: string): string | null {
  if (!ENV_NAME.test(name)) return 'it is not a valid name: use letters, digits and "_", not starting with a digit';
  const anyCase = REFUSED_ANY_CASE[name.toUpperCase()];
  if (anyCase) return anyCase;
  if (Object.hasOwn(REFUSED, name)) return REFUSED[name] ?? null;
  if (GIT_IDENTITY.has(name)) return null;
  for (const [prefix, why] of REFUSED_PREFIXES) if (name.startsWith(prefix)) return why;
  return null;
}

/** Checks a client's env (box_create, box_exec): INVALID_ARGUMENT naming the first bad variable and why. */
export function checkEnv(env: Record<string, string>, field = "env"): void {
  const names = Object.keys(env);
  if (names.length > MAX_ENV_VARS) throw invalidArgument(`${field}: at most ${MAX_ENV_VARS} variables`);
  for (const [name, value] of Object.entries(env)) {
    const why = refusedEnvReason(name);
    if (why) throw invalidArgument(`${field} variable "${name}" is not allowed: ${why}. See README "Inside a box".`);
    if (value.includes("\0")) throw invalidArgument(`${field} value of "${name}" contains a NUL byte`);
  }
}

/**
 * Wraps one of the server's own commands in the box so that bash never sees a shell-startup variable the
 * container's env may carry (a box created before these names were refused): `env -u NAME ... argv`.
 * env is /usr/bin/env in every image (coreutils, or busybox on -alpine; both take -u).
 */
export function shellSafe(argv: string[]): string[] {
  return ["/usr/bin/env", ...SHELL_STARTUP_ENV.flatMap((n) => ["-u", n]), ...argv];
}
