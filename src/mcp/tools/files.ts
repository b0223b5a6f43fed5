// File tools: box_write_file, box_read_file, box_list_files, box_stat_file, box_make_dir, box_move_file,
// box_delete_file, box_upload, box_download. They translate between MCP (text/base64, content blocks, the
// caller's roots) and FileService, which does the work inside the box; they never touch Docker themselves.
import { z } from "zod";
import { invalidArgument } from "../../errors.js";
import {
  CONTENT_ENCODINGS,
  decodeBase64,
  decodeContent,
  encodeContent,
  mimeTypeOf,
} from "../../fs/content-encoding.js";
import type { UploadRequest } from "../../fs/file-service.js";
import { DEFAULT_MAX_ENTRIES, ENTRY_TYPES, MAX_ENTRIES } from "../../fs/file-service.js";
import { DOWNLOAD_FORMATS, DOWNLOAD_TYPES } from "../../fs/transfer.js";
import { defineBoxTool } from "../define-box-tool.js";
import type { ToolContext } from "../define-tool.js";
import { INLINE_DOWNLOAD_BYTES, PAGE_BUDGET_BYTES, pageOf, READ_PAGE_BYTES } from "../fit.js";
import { boxPath } from "../schemas.js";
import { octalModeText, strictInput } from "../strict-input.js";

const encoding = z.enum(CONTENT_ENCODINGS).optional().describe("utf8 (default) for text; base64 for binary content");
const entryType = z.enum(ENTRY_TYPES).describe("What the path is (symlinks are not followed)");
const statShape = {
  path: z.string().describe("Absolute path in the box"),
  type: entryType,
  size: z.number().describe("Size in bytes"),
  mode: z.string().describe('Permission bits in octal, e.g. "644"'),
  modifiedAt: z.string().describe("Last modification time (ISO 8601)"),
};
const hostPathField = z
  .string()
  .min(1)
  .max(4096)
  .describe(
    "A path on the server's machine (not the client's). Over stdio: an absolute path inside the server's BOXD_ROOTS or the client's declared roots. " +
      "Over HTTP: the client's roots are ignored; each tenant has its own folder <root>/<tenant> in every BOXD_ROOTS root, and hostPath must lie in one of " +
      "them, either absolute or relative (a relative path is read in the tenant's folder of the first root); anything else, including a symlink leading out, is FORBIDDEN",
  );

/** Who asks and over what: the file service decides from this which host folders hostPath may use. */
const hostAccess = (ctx: ToolContext) => ({ tenant: ctx.tenant, remote: ctx.remote, clientRoots: ctx.clientRoots });

export const boxWriteFile = defineBoxTool({
  name: "box_write_file",
  title: "Write a file",
  description:
    "Write a file in the box as boxuser, creating missing parent folders. The write is atomic (a temp file renamed into place) unless append is set; an existing file keeps its mode unless mode is given. " +
    "Content is limited to the server's max file size: beyond it use box_upload with an archive or a hostPath.",
  input: {
    path: boxPath("File to write"),
    content: z.string().describe("The content: text, or base64 when encoding is base64"),
    encoding,
    mode: z
      .string({ error: octalModeText })
      .optional()
      .describe('Permission bits in octal, e.g. "755" for a script (default: keep, or 644 for a new file)'),
    append: z.boolean().optional().describe("Append to the file instead of replacing it"),
  },
  output: { path: z.string().describe("Absolute path written"), bytes: z.number().describe("Bytes written") },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const content = decodeContent(args.content, args.encoding, "content");
    const r = await s.files.write(box.containerId, args.path, content, { mode: args.mode, append: args.append });
    return {
      text: `${args.append ? "appended" : "wrote"} ${r.bytes} bytes to ${r.path}`,
      structured: r,
    };
  },
});

export const boxReadFile = defineBoxTool({
  name: "box_read_file",
  title: "Read a file",
  description:
    `Read a file from the box, whole or a byte range (offset, length). At most ${READ_PAGE_BYTES} bytes (less for text with many escaped characters) or the server's max file size come back per call; ` +
    "truncated: true with nextOffset means there is more. Binary files need encoding base64. For folders use box_list_files.",
  input: {
    path: boxPath("File to read"),
    encoding,
    offset: z.number().int().min(0).optional().describe("First byte to return (default 0)"),
    length: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(`Bytes to return at most (default and cap: ${READ_PAGE_BYTES}, or the server's max file size if less)`),
  },
  output: {
    path: z.string().describe("Absolute path read"),
    content: z.string().describe("The bytes read, as text or base64 (see encoding)"),
    encoding: z.enum(CONTENT_ENCODINGS).describe("How content is encoded"),
    bytes: z.number().describe("Total size of the file in bytes"),
    truncated: z.boolean().describe("true when the file has more bytes after what was returned"),
    offset: z.number().describe("Offset of the first byte returned"),
    nextOffset: z.number().optional().describe("Where to continue reading when truncated"),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const length = Math.min(args.length ?? READ_PAGE_BYTES, READ_PAGE_BYTES);
    const r = await s.files.read(box.containerId, args.path, { offset: args.offset, length });
    const enc = args.encoding ?? "utf8";
    const got = r.content;
    const encoded = encodeContent(got, enc, { partial: r.truncated, path: r.path });
    // Text with many escaped characters grows in JSON: keep to one answer's budget (nextOffset has the rest).
    const fitted = pageOf(got, 0, encoded.used, PAGE_BUDGET_BYTES, enc);
    const { content, used } =
      fitted.end < encoded.used
        ? { content: fitted.text, used: fitted.end }
        : { content: encoded.text, used: encoded.used };
    const truncated = r.truncated || used < got.length;
    const nextOffset = truncated ? r.offset + used : undefined;
    return {
      text: `read ${used} of ${r.bytes} bytes from ${r.path}${truncated ? " (more remains)" : ""}`,
      structured: {
        path: r.path,
        content,
        encoding: enc,
        bytes: r.bytes,
        truncated,
        offset: r.offset,
        nextOffset,
      },
    };
  },
});

export const boxListFiles = defineBoxTool({
  name: "box_list_files",
  title: "List files",
  description:
    "List a folder in the box (its entries, or every entry below it with recursive). Sorted by path; entries the box user cannot read are left out.",
  input: {
    path: boxPath("Folder to list")
      .default(".")
      .describe("Folder to list: absolute, or relative to /workspace/home (default: /workspace/home)"),
    recursive: z.boolean().optional().describe("Include everything below the folder, not only its direct entries"),
    maxEntries: z
      .number()
      .int()
      .min(1)
      .max(MAX_ENTRIES)
      .optional()
      .describe(`Entries to return at most (default ${DEFAULT_MAX_ENTRIES})`),
  },
  output: {
    path: z.string().describe("Absolute path listed"),
    entries: z.array(z.object({ name: z.string().describe("File name"), ...statShape })).describe("The entries"),
    truncated: z.boolean().describe("true when there were more than maxEntries entries"),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const r = await s.files.list(box.containerId, args.path, {
      recursive: args.recursive,
      maxEntries: args.maxEntries,
    });
    const more = r.truncated ? " (truncated: raise maxEntries or list a subfolder)" : "";
    return {
      text: `${r.entries.length} entries in ${r.path}${more}`,
      structured: r,
    };
  },
});

export const boxStatFile = defineBoxTool({
  name: "box_stat_file",
  title: "File information",
  description:
    "Type, size, permissions and modification time of a path in the box (a symlink is described itself, not its target).",
  input: { path: boxPath("Path to describe") },
  output: statShape,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const st = await s.files.stat(box.containerId, args.path);
    return {
      text: `${st.path}: ${st.type}, ${st.size} bytes, mode ${st.mode}`,
      structured: st,
    };
  },
});

export const boxMakeDir = defineBoxTool({
  name: "box_make_dir",
  title: "Make a folder",
  description:
    "Create a folder in the box. With parents: true, missing parent folders are created and an existing folder is fine.",
  input: {
    path: boxPath("Folder to create"),
    parents: z
      .boolean()
      .optional()
      .describe("Create missing parents too, and accept an existing folder (like mkdir -p)"),
  },
  output: { path: z.string().describe("Absolute path of the folder") },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const r = await s.files.makeDir(box.containerId, args.path, { parents: args.parents });
    return { text: `folder ${r.path} ready`, structured: r };
  },
});

export const boxMoveFile = defineBoxTool({
  name: "box_move_file",
  title: "Move or rename",
  description:
    "Move or rename a file or folder in the box; `to` is the new path itself (not a folder to move into). Missing parents of `to` are created. An existing `to` is an error unless overwrite is set.",
  input: {
    from: boxPath("Path to move"),
    to: boxPath("New path"),
    overwrite: z.boolean().optional().describe("Replace an existing file (or empty folder) at `to`"),
  },
  output: { from: z.string().describe("Old absolute path"), to: z.string().describe("New absolute path") },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const r = await s.files.move(box.containerId, args.from, args.to, { overwrite: args.overwrite });
    return {
      text: `moved ${r.from} to ${r.to}`,
      structured: r,
    };
  },
});

export const boxDeleteFile = defineBoxTool({
  name: "box_delete_file",
  title: "Delete a file or folder",
  description: "Delete a file, symlink or folder in the box. A folder that is not empty needs recursive: true.",
  input: {
    path: boxPath("Path to delete"),
    recursive: z.boolean().optional().describe("Delete a folder with everything in it"),
  },
  output: {
    path: z.string().describe("Absolute path deleted"),
    deleted: z.boolean().describe("true once it is gone"),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const r = await s.files.delete(box.containerId, args.path, { recursive: args.recursive });
    return { text: `deleted ${r.path}`, structured: r };
  },
});

export const boxUpload = defineBoxTool({
  name: "box_upload",
  title: "Upload files",
  description:
    "Put files into a folder of the box (created if missing), owned by boxuser. Give exactly one of: files (inline, up to the server's max file size in total), " +
    "archive (a base64 tar or tar.gz; members must stay inside the folder), or hostPath (a file or folder on the server's machine inside the allowed roots: " +
    "a file lands in the folder under its name, a folder's contents land in the folder; symlinks are kept as symlinks). " +
    "Nothing is ever written through a symlink already in the destination: when a member would go into a folder that is (or lies under) a symlink leading outside the destination, " +
    "the whole upload is refused with INVALID_ARGUMENT before anything is extracted (a symlink that stays inside the destination is fine).",
  input: {
    destination: boxPath("Folder to put the files in"),
    files: z
      .array(
        strictInput({
          path: z.string().min(1).describe("Path relative to destination (no leading /, no ..)"),
          content: z.string().describe("The content: text, or base64 when encoding is base64"),
          encoding,
        }),
      )
      .optional()
      .describe("Files to write"),
    archive: z.string().optional().describe("A tar or tar.gz archive, base64-encoded"),
    hostPath: hostPathField.optional(),
  },
  output: {
    destination: z.string().describe("Absolute path of the folder in the box"),
    files: z.number().describe("Files (and links) put in place"),
    bytes: z.number().describe("Bytes of file content transferred"),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, box, s) {
    const given = [args.files, args.archive, args.hostPath].filter((x) => x !== undefined).length;
    if (given !== 1) throw invalidArgument("give exactly one of files, archive or hostPath");
    let source: UploadRequest;
    if (args.files) {
      source = {
        files: args.files.map((f, i) => ({
          path: f.path,
          content: decodeContent(f.content, f.encoding, `files[${i}].content`),
        })),
      };
    } else if (args.archive !== undefined) {
      source = { archive: decodeBase64(args.archive, "archive") };
    } else {
      source = { hostPath: args.hostPath as string };
    }
    const r = await s.files.upload(box.containerId, args.destination, source, hostAccess(ctx));
    return {
      text: `uploaded ${r.files} files (${r.bytes} bytes) to ${r.destination}`,
      structured: r,
    };
  },
});

export const boxDownload = defineBoxTool({
  name: "box_download",
  title: "Download a file or folder",
  description:
    `Get a file or folder out of the box. Without hostPath: a file comes back as its bytes (base64) and a folder as a tar.gz (base64), both also as an embedded resource, up to ${INLINE_DOWNLOAD_BYTES} bytes (or the server's max file size if less; box_read_file with offset pages through bigger files). ` +
    "With hostPath (inside the allowed roots) it is streamed to the server's disk, any size: a file to hostPath (or into it, if hostPath is a folder), a folder's contents into the folder hostPath; " +
    "links and special files in a folder are skipped, and nothing is ever written outside hostPath.",
  input: {
    path: boxPath("File or folder to download"),
    hostPath: hostPathField.optional(),
  },
  output: {
    path: z.string().describe("Absolute path in the box"),
    type: z.enum(DOWNLOAD_TYPES).describe("What was downloaded"),
    bytes: z.number().describe("Size of content (inline) or of the files written (hostPath)"),
    format: z.enum(DOWNLOAD_FORMATS).optional().describe("Inline only: raw file bytes, or a folder as tar.gz"),
    encoding: z.literal("base64").optional().describe("Inline only: content is base64"),
    content: z.string().optional().describe("Inline only: the data, base64-encoded"),
    hostPath: z.string().optional().describe("hostPath only: where it was written"),
    files: z.number().optional().describe("hostPath only: files written"),
    skipped: z
      .number()
      .optional()
      .describe("hostPath only: archive members skipped (links, special files, unsafe names)"),
  },
  // With hostPath it writes (and may replace) files on the server's machine, so it is not read-only.
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, box, s) {
    const r = await s.files.download(box.containerId, args.path, {
      hostPath: args.hostPath,
      host: hostAccess(ctx),
      maxInline: INLINE_DOWNLOAD_BYTES,
    });
    const { data, ...d } = r;
    if (args.hostPath !== undefined) {
      const skipped = d.skipped ? `, ${d.skipped} skipped` : "";
      return {
        text: `downloaded ${d.type} ${d.path} to ${d.hostPath} (${d.files} files, ${d.bytes} bytes${skipped})`,
        structured: d,
      };
    }
    const blob = (data ?? Buffer.alloc(0)).toString("base64");
    const mimeType = d.type === "directory" ? "application/gzip" : mimeTypeOf(d.path);
    return {
      text: `downloaded ${d.type} ${d.path} (${d.bytes} bytes${d.type === "directory" ? " as tar.gz" : ""})`,
      structured: { ...d, encoding: "base64" as const, content: blob },
      content: [
        {
          type: "resource" as const,
          resource: { uri: `box://${box.boxId}/files${encodeURI(d.path)}`, mimeType, blob },
        },
      ],
    };
  },
});

export const fileTools = [
  boxWriteFile,
  boxReadFile,
  boxListFiles,
  boxStatFile,
  boxMakeDir,
  boxMoveFile,
  boxDeleteFile,
  boxUpload,
  boxDownload,
];
