// box_delete with a list: each box deleted on its own, a few at a time (a teardown waits on the engine),
// and one that fails is reported in `failed` without stopping the others.
import { type ErrorCode, toBoxdError } from "../errors.js";

/** What box_delete with a list answers: the boxes deleted, and each one that was not with its error. */
export interface DeleteManyResult {
  deleted: { id: string }[];
  failed: { box: string; code: ErrorCode; message: string }[];
}

/** Boxes torn down at once. */
const DELETE_BATCH = 4;

export async function deleteEach(
  refs: readonly string[],
  remove: (ref: string) => Promise<{ id: string }>,
): Promise<DeleteManyResult> {
  const result: DeleteManyResult = { deleted: [], failed: [] };
  const unique = [...new Set(refs)];
  for (let i = 0; i < unique.length; i += DELETE_BATCH) {
    const batch = unique.slice(i, i + DELETE_BATCH);
    const settled = await Promise.allSettled(batch.map(remove));
    settled.forEach((s, k) => {
      if (s.status === "fulfilled") result.deleted.push({ id: s.value.id });
      else {
        const err = toBoxdError(s.reason);
        result.failed.push({ box: batch[k] as string, code: err.code, message: err.message });
      }
    });
  }
  return result;
}
