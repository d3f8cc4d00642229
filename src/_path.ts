// POSIX path helpers, used instead of `node:path` so that the CLI's start-up
// does not initialise Deno's Node compat layer (about 7 ms, issue 4). They
// follow `node:path`'s posix functions exactly (tests/path_test.ts compares
// them). POSIX only: this package targets Linux and macOS (flock, /proc), so
// there is no Windows handling of drive letters or backslashes.

/** Normalises `/`-separated segments: drops empty and `.`, applies `..`. */
function normalizeSegments(path: string, allowAboveRoot: boolean): string {
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (allowAboveRoot) out.push("..");
    } else {
      out.push(segment);
    }
  }
  return out.join("/");
}

/** Whether `path` is absolute (starts with `/`). */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** Normalises `path`, keeping a trailing `/`; `""` gives `"."`. */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = isAbsolute(path);
  const trailing = path.endsWith("/");
  const normal = normalizeSegments(path, !absolute);
  if (normal === "") return absolute ? "/" : trailing ? "./" : ".";
  return `${absolute ? "/" : ""}${normal}${trailing ? "/" : ""}`;
}

/** Joins the non-empty `paths` with `/` and normalises the result. */
export function join(...paths: string[]): string {
  const joined = paths.filter((path) => path !== "").join("/");
  return normalize(joined);
}

/** The parent of `path`; `"/"` for the root, `"."` for a bare name. */
export function dirname(path: string): string {
  if (path === "") return ".";
  const hasRoot = path.startsWith("/");
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] === "/") {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else {
      matchedSlash = false;
    }
  }
  if (end === -1) return hasRoot ? "/" : ".";
  if (hasRoot && end === 1) return "//";
  return path.slice(0, end);
}

/**
 * Resolves `paths` right to left into a normalised absolute path, relative
 * ones against `Deno.cwd()` (which needs `--allow-read`).
 */
export function resolve(...paths: string[]): string {
  let resolved = "";
  let absolute = false;
  for (let i = paths.length - 1; i >= -1 && !absolute; i--) {
    const path = i >= 0 ? paths[i]! : Deno.cwd();
    if (path === "") continue;
    resolved = `${path}/${resolved}`;
    absolute = isAbsolute(path);
  }
  return `/${normalizeSegments(resolved, false)}`;
}
